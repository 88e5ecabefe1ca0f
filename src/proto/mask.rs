//! XOR masking of payloads (RFC 6455 §5.3), a machine word at a time.

/// Applies (or removes: XOR is its own inverse) the masking `key` to `buf`.
///
/// `offset` is the position of `buf[0]` within the frame payload, so a payload can be unmasked in
/// pieces as it arrives. The bulk runs over 8-byte words, which the compiler turns into SIMD.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let rotated = rotate(key, offset);
    let k32 = u32::from_ne_bytes(rotated);
    let k64 = u64::from(k32) | (u64::from(k32) << 32);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(word) ^ k64).to_ne_bytes());
    }
    for (byte, k) in chunks
        .into_remainder()
        .iter_mut()
        .zip(rotated.iter().cycle())
    {
        *byte ^= k;
    }
}

fn rotate(key: [u8; 4], offset: usize) -> [u8; 4] {
    let mut out = key;
    out.rotate_left(offset % 4);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(offset + i) % 4];
        }
    }

    #[test]
    fn matches_bytewise_reference_for_all_lengths_and_offsets() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in 0..70 {
            for offset in 0..8 {
                let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
                let mut fast = data.clone();
                let mut slow = data.clone();
                apply_mask(&mut fast, key, offset);
                naive(&mut slow, key, offset);
                assert_eq!(fast, slow, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn unmasking_in_pieces_equals_unmasking_at_once() {
        let key = [1, 2, 3, 4];
        let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        let mut pieces = data.clone();
        let mut at = 0;
        for step in [1, 3, 5, 8, 13, 100, 870] {
            apply_mask(&mut pieces[at..at + step], key, at);
            at += step;
        }
        assert_eq!(whole, pieces);
    }

    #[test]
    fn rfc_hello_example() {
        let mut masked = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        apply_mask(&mut masked, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(&masked, b"Hello");
    }
}
