// SPDX-License-Identifier: GPL-2.0
//! Timed waits that never end early.
//!
//! A relative timeout in milliseconds is turned into an absolute deadline on the monotonic
//! clock when the operation starts. Every sleep is for the time left until that deadline,
//! rounded up to whole milliseconds and then to jiffies, plus one jiffy: `schedule_timeout(n)`
//! returns after `n - 1` to `n` ticks, depending on where in the current tick it was called,
//! so the extra jiffy is what makes each sleep at least as long as asked. A wait that is woken
//! early (a notification for someone else, a spurious wakeup) re-reads the clock instead of
//! trusting the jiffies `schedule_timeout` says remain, so many short sleeps do not add up to
//! less than the timeout either.

use kernel::time::{
    msecs_to_jiffies,
    Delta,
    Instant,
    Jiffies,
    Monotonic, //
};

use crate::uapi::KRING_TIMEOUT_INFINITE;

/// When a wait gives up: `None` means never.
#[derive(Clone, Copy)]
pub(crate) struct Deadline(Option<Instant<Monotonic>>);

/// What a sleep should do now.
pub(crate) enum Sleep {
    /// No deadline: sleep until woken.
    Forever,
    /// Sleep at most this many jiffies (at least 1).
    For(Jiffies),
    /// The deadline has passed.
    Expired,
}

impl Deadline {
    /// The deadline `timeout_ms` from now (`KRING_TIMEOUT_INFINITE`: none).
    pub(crate) fn after_ms(timeout_ms: u32) -> Self {
        if timeout_ms == KRING_TIMEOUT_INFINITE {
            Self(None)
        } else {
            Self(Some(Instant::<Monotonic>::now() + Delta::from_millis(i64::from(timeout_ms))))
        }
    }

    /// How long to sleep now to wake no earlier than the deadline.
    pub(crate) fn sleep(&self) -> Sleep {
        let Some(at) = self.0 else { return Sleep::Forever };
        let left = at - Instant::<Monotonic>::now();
        if left.is_zero() || left.is_negative() {
            return Sleep::Expired;
        }
        // At most u32::MAX ms were asked for, so the remaining milliseconds fit too.
        let ms = u32::try_from(left.as_millis_ceil()).unwrap_or(u32::MAX - 1);
        Sleep::For(msecs_to_jiffies(ms).saturating_add(1))
    }
}
