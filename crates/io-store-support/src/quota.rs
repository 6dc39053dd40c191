//! The one quota rule of the native stores.

use io_core::{Error, Result};

/// Checks that `needed` bytes fit next to `used_by_others` bytes under `quota` (`None` = no quota).
///
/// Stores call it inside their write transaction, after computing what the write would occupy, so
/// a refused write changes nothing. The error is [`Error::QuotaExceeded`] with the needed and
/// available bytes and `cause` (how the store counts bytes) as its detail.
pub fn check_quota(quota: Option<u64>, used_by_others: u64, needed: u64, url: &str, cause: &str) -> Result<()> {
    let Some(quota) = quota else { return Ok(()) };
    let available = quota.saturating_sub(used_by_others);
    if needed <= available {
        return Ok(());
    }
    Err(Error::QuotaExceeded {
        url: url.to_string(),
        needed,
        available,
        detail: format!("quota {quota} bytes, {used_by_others} bytes used by other entries; {cause}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_rule() {
        assert!(check_quota(None, u64::MAX, u64::MAX, "u", "c").is_ok());
        assert!(check_quota(Some(10), 4, 6, "u", "c").is_ok());
        match check_quota(Some(10), 4, 7, "x://m", "counted so") {
            Err(Error::QuotaExceeded { url, needed: 7, available: 6, detail }) => {
                assert_eq!(url, "x://m");
                assert!(detail.contains("quota 10 bytes") && detail.contains("counted so"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(check_quota(Some(3), 5, 1, "u", "c"), Err(Error::QuotaExceeded { available: 0, .. })));
    }
}
