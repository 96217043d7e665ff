pub fn total(prices: &[u32]) -> u32 {
    prices.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_prices() {
        println!("summing three prices");
        assert_eq!(total(&[1, 2, 3]), 6);
    }

    #[test]
    fn applies_discount() {
        assert_eq!(total(&[10, 20]), 25, "discount not applied");
    }

    #[test]
    #[ignore = "needs a payment sandbox"]
    fn charges_card() {}
}
