//! Booth fees and the late-cancellation fee (退展费): cancelling after the registration window
//! has closed costs a share of the booth fee of the booths given back.

/// The fee of `booths` booths at `fee_per_booth_fen`.
pub fn booth_fee(fee_per_booth_fen: i64, booths: u32) -> i64 {
    fee_per_booth_fen.saturating_mul(i64::from(booths))
}

/// What a cancellation costs: nothing while the window is open, else `percent` of the fee
/// (rounded down to the fen).
pub fn cancellation_fee(
    fee_per_booth_fen: i64,
    booths: u32,
    percent: u32,
    after_close: bool,
) -> i64 {
    if !after_close {
        return 0;
    }
    let fee = i128::from(booth_fee(fee_per_booth_fen, booths));
    (fee * i128::from(percent) / 100) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_late_cancellation_costs_a_share_of_the_fee() {
        assert_eq!(cancellation_fee(1_500_000, 2, 30, false), 0);
        assert_eq!(cancellation_fee(1_500_000, 2, 30, true), 900_000);
        assert_eq!(cancellation_fee(333, 1, 50, true), 166);
    }
}
