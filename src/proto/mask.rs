//! XOR masking of payloads (RFC 6455 §5.3), 32 bytes at a time.

/// Applies (or removes: XOR is its own inverse) the masking `key` to `buf`.
///
/// `offset` is the position of `buf[0]` within the frame payload, so a payload can be unmasked in
/// pieces as it arrives. The bulk runs over 32-byte blocks; on x86_64 CPUs with AVX2 (detected at
/// run time) each block is one 256-bit XOR, elsewhere the compiler's baseline SIMD is used.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate(key, offset);
    #[cfg(target_arch = "x86_64")]
    if buf.len() >= 64 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: `apply_mask_avx2` only requires AVX2, which the CPU was just checked to have.
        #[allow(unsafe_code)]
        unsafe {
            apply_mask_avx2(buf, key)
        };
        return;
    }
    apply_mask_blocks(buf, key);
}

/// [`apply_mask_blocks`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn apply_mask_avx2(buf: &mut [u8], key: [u8; 4]) {
    apply_mask_blocks(buf, key);
}

/// Plain safe Rust the compiler vectorizes: 32-byte blocks as four 64-bit words, then the rest
/// as 64-bit words, one 32-bit word and at most three bytes (a 16-byte payload, the common
/// small message, is two word XORs). `key` is already rotated to `buf[0]`.
#[inline(always)]
fn apply_mask_blocks(buf: &mut [u8], key: [u8; 4]) {
    let k32 = u32::from_ne_bytes(key);
    let k64 = u64::from(k32) | (u64::from(k32) << 32);
    let mut blocks = buf.chunks_exact_mut(32);
    for block in &mut blocks {
        for word in block.chunks_exact_mut(8) {
            xor_word(word, k64);
        }
    }
    // Every chunk so far is a multiple of 4 bytes long: the key stays aligned to what is left.
    let mut words = blocks.into_remainder().chunks_exact_mut(8);
    for word in &mut words {
        xor_word(word, k64);
    }
    let rest = words.into_remainder();
    // Fewer than 8 bytes are left: a 4-byte word if there are at least 4, then the bytes.
    let (word, tail) = rest.split_at_mut(rest.len() & 4);
    if let Ok(word) = <&mut [u8; 4]>::try_from(word) {
        *word = (u32::from_ne_bytes(*word) ^ k32).to_ne_bytes();
    }
    for (byte, k) in tail.iter_mut().zip(key) {
        *byte ^= k;
    }
}

#[inline(always)]
fn xor_word(word: &mut [u8], k64: u64) {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(word);
    word.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ k64).to_ne_bytes());
}

/// The key as seen from payload position `offset`: `key` rotated left by `offset % 4` bytes
/// (a 32-bit rotation, not a slice rotation).
fn rotate(key: [u8; 4], offset: usize) -> [u8; 4] {
    let bits = (offset % 4) as u32 * 8;
    u32::from_le_bytes(key).rotate_right(bits).to_le_bytes()
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
        for len in (0..140).chain([1000, 4099]) {
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
