//! A token bucket: the one rate limiter, used by the hub (per user) and by hosts (per
//! connection, before a frame is even parsed).

/// Allows `rate` events per second on average, in bursts of up to `burst`. Time is in
/// milliseconds and supplied by the caller (sans I/O).
#[derive(Clone, Debug, PartialEq)]
pub struct TokenBucket {
    rate_per_ms: f64,
    burst: f64,
    tokens: f64,
    last_ms: u64,
}

impl TokenBucket {
    /// A full bucket. A `rate` of 0 means unlimited.
    pub fn new(rate_per_sec: u32, burst: u32, now_ms: u64) -> Self {
        TokenBucket {
            rate_per_ms: f64::from(rate_per_sec) / 1000.0,
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            last_ms: now_ms,
        }
    }

    /// Takes one token if there is one; false means "over the limit".
    pub fn try_take(&mut self, now_ms: u64) -> bool {
        self.try_take_n(1, now_ms)
    }

    /// Takes `n` tokens if there are that many (nothing otherwise); false means "over the
    /// limit". A cost above the burst is charged as the burst: it needs a full bucket, and
    /// empties it.
    pub fn try_take_n(&mut self, n: u64, now_ms: u64) -> bool {
        if self.rate_per_ms == 0.0 {
            return true;
        }
        let elapsed = now_ms.saturating_sub(self.last_ms) as f64;
        self.last_ms = self.last_ms.max(now_ms);
        self.tokens = (self.tokens + elapsed * self.rate_per_ms).min(self.burst);
        let cost = (n as f64).min(self.burst);
        if self.tokens >= cost {
            self.tokens -= cost;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refills() {
        let mut b = TokenBucket::new(10, 3, 0);
        assert!(b.try_take(0) && b.try_take(0) && b.try_take(0));
        assert!(!b.try_take(0));
        assert!(!b.try_take(99));
        assert!(b.try_take(100));
        assert!(!b.try_take(100));
        // Never more than the burst, however long the pause.
        for _ in 0..3 {
            assert!(b.try_take(1_000_000));
        }
        assert!(!b.try_take(1_000_000));
    }

    #[test]
    fn weighted_takes_and_costs_above_the_burst() {
        let mut b = TokenBucket::new(1000, 100, 0);
        assert!(b.try_take_n(60, 0));
        assert!(!b.try_take_n(60, 0), "40 left");
        assert!(b.try_take_n(40, 0));
        // 500 > burst: needs (and empties) a full bucket.
        assert!(!b.try_take_n(500, 50));
        assert!(b.try_take_n(500, 100));
        assert!(!b.try_take(100));
    }

    #[test]
    fn zero_rate_is_unlimited() {
        let mut b = TokenBucket::new(0, 1, 0);
        assert!((0..10_000).all(|_| b.try_take(0)));
    }
}
