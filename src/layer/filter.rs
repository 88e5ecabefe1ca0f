//! [`Filter`]: which upgrade requests the layer answers (the rest go to the inner service).

use std::fmt;
use std::sync::Arc;

use http::request::Parts;

pub(crate) type Predicate = Arc<dyn Fn(&Parts) -> bool + Send + Sync>;

/// Which requests the layer considers.
#[derive(Clone, Default)]
pub(crate) struct Filter {
    pub(crate) path: Option<Arc<str>>,
    pub(crate) predicate: Option<Predicate>,
}

impl Filter {
    pub(crate) fn matches(&self, parts: &Parts) -> bool {
        self.path
            .as_deref()
            .is_none_or(|path| parts.uri.path() == path)
            && self
                .predicate
                .as_ref()
                .is_none_or(|predicate| predicate(parts))
    }
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filter")
            .field("path", &self.path)
            .field("predicate", &self.predicate.is_some())
            .finish()
    }
}
