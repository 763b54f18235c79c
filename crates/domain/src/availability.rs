//! The compact availability encoding: every seat's status in two bits, in
//! seat-map order, so that a 100,000-seat event's availability is 25 KB
//! rather than megabytes of JSON, and a client that has the seat map (whose
//! seats come in the same order) can paint it at once.
//!
//! Seat `i` is in byte `i / 4`, bits `2 * (i % 4)` and up (least significant
//! first): 0 available, 1 held, 2 sold; 3 is unused.

/// Two-bit code of a seat's status.
pub const AVAILABLE: u8 = 0;
pub const HELD: u8 = 1;
pub const SOLD: u8 = 2;

/// All seats available: `count` seats, every code 0.
pub fn all_available(count: usize) -> Vec<u8> {
    vec![0; count.div_ceil(4)]
}

/// Sets seat `index`'s code in a packed vector.
pub fn set(packed: &mut [u8], index: usize, code: u8) {
    let shift = 2 * (index % 4);
    let byte = &mut packed[index / 4];
    *byte = (*byte & !(0b11 << shift)) | ((code & 0b11) << shift);
}

/// Seat `index`'s code.
pub fn get(packed: &[u8], index: usize) -> u8 {
    (packed[index / 4] >> (2 * (index % 4))) & 0b11
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_seat_reads_back_what_was_set(codes in proptest::collection::vec(0u8..3, 0..200)) {
            let mut packed = all_available(codes.len());
            for (i, c) in codes.iter().enumerate() {
                set(&mut packed, i, *c);
            }
            prop_assert_eq!(packed.len(), codes.len().div_ceil(4));
            for (i, c) in codes.iter().enumerate() {
                prop_assert_eq!(get(&packed, i), *c);
            }
        }
    }

    #[test]
    fn codes_are_packed_least_significant_first() {
        let mut packed = all_available(5);
        set(&mut packed, 1, SOLD);
        set(&mut packed, 4, HELD);
        assert_eq!(packed, vec![0b0000_1000, 0b0000_0001]);
        set(&mut packed, 1, AVAILABLE);
        assert_eq!(packed[0], 0);
    }
}
