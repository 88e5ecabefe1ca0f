//! Incremental UTF-8 validation (RFC 6455 §8.1).
//!
//! Text payloads arrive in pieces: fragments of a message, and chunks of one frame as TCP delivers
//! them. [`Utf8Validator`] judges each piece as it comes and fails at the first byte that can no
//! longer begin or continue valid UTF-8, so a peer sending invalid text is stopped at once instead
//! of after the whole message has been buffered.

use simdutf8::compat::from_utf8;

/// Invalid UTF-8 was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

/// State carried between pieces: the bytes of a character cut in two by a piece boundary.
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    partial: [u8; 4],
    partial_len: u8,
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Validates the next piece. Fails as soon as the bytes seen so far cannot be the start of
    /// valid UTF-8; an incomplete character at the end is kept for the next piece.
    pub fn feed(&mut self, mut input: &[u8]) -> Result<(), InvalidUtf8> {
        if self.partial_len > 0 {
            let have = usize::from(self.partial_len);
            let need = char_width(self.partial[0]).saturating_sub(have);
            let take = need.min(input.len());
            let mut joined = [0u8; 4];
            let total = have + take;
            joined[..have].copy_from_slice(&self.partial[..have]);
            joined[have..total].copy_from_slice(&input[..take]);
            match from_utf8(&joined[..total]) {
                Ok(_) => {
                    self.partial_len = 0;
                    input = &input[take..];
                }
                Err(e) if e.error_len().is_none() => {
                    // Still incomplete: the whole input was consumed into the pending character.
                    self.partial = joined;
                    self.partial_len = total as u8;
                    return Ok(());
                }
                Err(_) => return Err(InvalidUtf8),
            }
        }
        match from_utf8(input) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let rest = input.get(e.valid_up_to()..).unwrap_or_default();
                let slot = self.partial.get_mut(..rest.len()).ok_or(InvalidUtf8)?;
                slot.copy_from_slice(rest);
                self.partial_len = rest.len() as u8;
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// Ends the message: fails if it stopped inside a character.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let complete = self.partial_len == 0;
        self.partial_len = 0;
        if complete { Ok(()) } else { Err(InvalidUtf8) }
    }
}

/// Length of the character a valid lead byte starts (the validator only stores valid prefixes).
fn char_width(lead: u8) -> usize {
    match lead {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 1,
    }
}

/// Validates a complete buffer at once.
pub fn validate(bytes: &[u8]) -> Result<(), InvalidUtf8> {
    simdutf8::basic::from_utf8(bytes)
        .map(drop)
        .map_err(|_| InvalidUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `data` split at every possible pair of cut points and checks the verdict equals
    /// `std::str::from_utf8` on the whole, and that failure happens at the first piece that
    /// contains the first invalid byte.
    fn check_all_splits(data: &[u8]) {
        let whole_ok = std::str::from_utf8(data).is_ok();
        for a in 0..=data.len() {
            for b in a..=data.len() {
                let mut v = Utf8Validator::new();
                let pieces = [&data[..a], &data[a..b], &data[b..]];
                let mut failed_at = None;
                for (i, p) in pieces.iter().enumerate() {
                    if v.feed(p).is_err() {
                        failed_at = Some(i);
                        break;
                    }
                }
                let ok = failed_at.is_none() && v.finish().is_ok();
                assert_eq!(ok, whole_ok, "{data:x?} split at {a},{b}");
                if let (Some(piece), Err(e)) = (failed_at, std::str::from_utf8(data)) {
                    if let Some(len) = e.error_len() {
                        let last_bad = e.valid_up_to() + len - 1;
                        let end_of_piece = [a, b, data.len()][piece];
                        let start_of_piece = [0, a, b][piece];
                        // It failed in the piece holding the offending bytes, not later.
                        assert!(
                            start_of_piece <= last_bad + 1 && last_bad < end_of_piece.max(1) + 3
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn valid_text_in_every_split() {
        check_all_splits("κόσμε".as_bytes());
        check_all_splits("a€𝄞b".as_bytes());
        check_all_splits(b"");
        check_all_splits("\u{10FFFF}\u{7FF}\u{FFFF}".as_bytes());
    }

    #[test]
    fn invalid_text_in_every_split() {
        check_all_splits(b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64");
        check_all_splits(b"\xed\xa0\x80"); // surrogate
        check_all_splits(b"\xc0\xaf"); // overlong
        check_all_splits(b"\xf8\x88\x80\x80\x80");
        check_all_splits(b"ab\xe2\x82"); // truncated at the end
        check_all_splits(b"\x80");
    }

    #[test]
    fn fails_fast_inside_a_piece_before_the_message_ends() {
        // Autobahn 6.4.x: valid text, then a code point above U+10FFFF. The piece holding
        // 0xF4 0x90 must fail although the message is not finished.
        let mut v = Utf8Validator::new();
        assert!(v.feed("κόσμε".as_bytes()).is_ok());
        assert!(
            v.feed(b"\xf4").is_ok(),
            "0xF4 alone may still start a valid character"
        );
        assert_eq!(v.feed(b"\x90"), Err(InvalidUtf8));
    }

    #[test]
    fn incomplete_character_fails_at_finish() {
        let mut v = Utf8Validator::new();
        assert!(v.feed(b"\xf0\x9f").is_ok());
        assert_eq!(v.finish(), Err(InvalidUtf8));
        // finish resets the state for the next message.
        assert!(v.feed(b"ok").is_ok());
        assert!(v.finish().is_ok());
    }
}
