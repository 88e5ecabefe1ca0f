#![deny(unsafe_code)]
mod body;
mod config;
pub mod conn;
mod error;
mod future;
mod handler;
pub mod handshake;
mod layer;
pub mod proto;
mod service;
mod upgrade;

pub use body::UpgradeBody;
pub use config::Config;
pub use conn::{BoxedIo, Conn};
pub use error::Error;
pub use future::ResponseFuture;
pub use handler::{Handler, HandlerOutput};
pub use layer::WebSocketUpgradeLayer;
pub use proto::{CloseCode, CloseFrame, Limits, Message, ProtocolError, Role, Utf8Bytes};
pub use service::WebSocketUpgrade;
