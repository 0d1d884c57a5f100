//! Where contributions go: all-time totals and event-time window buckets. The first part of
//! the partition core (docs/native-core.md, step 3): the records' arithmetic, the twin of
//! `add_to_field` in `processor/metrics/series.py` (the reference).

use std::collections::HashMap;
use std::hash::Hash;

/// Python's `round(value, 6)`: the value correctly rounded to six decimals (ties to even,
/// on the exact binary value), read back as the nearest float.
pub fn round6(value: f64) -> f64 {
    // Rust's fixed-precision formatting is exact and rounds ties to even, as Python's
    // `round` does through its correctly rounded decimal conversion.
    format!("{value:.6}")
        .parse()
        .expect("a formatted float reads back")
}

/// Add an amount to a field of a record: rounded to the microunit when not whole (amounts
/// then add up to the same value in any order, and a sum back at zero is zero); a field
/// back at zero leaves the record.
pub fn add_to_field<K: Eq + Hash>(record: &mut HashMap<K, f64>, field: K, amount: f64) {
    let mut value = record.get(&field).copied().unwrap_or(0.0) + amount;
    if value % 1.0 != 0.0 {
        value = round6(value);
    }
    if value == 0.0 {
        record.remove(&field);
    } else {
        record.insert(field, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_go_to_even_on_the_exact_value() {
        // 1/128 = 0.0078125 exactly: a tie at six decimals, to the even 0.007812.
        assert_eq!(round6(0.0078125), 0.007812);
        assert_eq!(round6(3.0 / 128.0), 0.023438);
        assert_eq!(round6(0.1 + 0.2), 0.3);
        assert_eq!(round6(-2.5e-7), -0.0);
    }

    #[test]
    fn a_field_back_at_zero_leaves_the_record() {
        let mut record = HashMap::new();
        add_to_field(&mut record, "a", 0.1);
        add_to_field(&mut record, "a", 0.2);
        assert_eq!(record.get("a"), Some(&0.3));
        add_to_field(&mut record, "a", -0.3);
        assert!(record.is_empty());
    }
}
