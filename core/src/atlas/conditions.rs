//! Policy and context-pack conditions, compiled for fast evaluation.
//!
//! Every present condition kind must hold (AND); inside one list any entry may match (OR).
//! The `capabilities` kind is not here: for policies it is folded into the candidate lists at
//! compile time, for packs it is checked against the allowed actions of the resolution.

use crate::atlas::model::{Conditions, TimeWindow};
use crate::atlas::pattern::Pattern;
use crate::clock::weekday_and_minute;
use crate::protocol::RiskTier;
use serde_json::{Map, Value};

/// What conditions are evaluated against.
#[derive(Debug, Clone, Copy)]
pub struct EvalCtx<'a> {
    /// The requester's agent id.
    pub agent_id: &'a str,
    /// The task's risk tier (default low).
    pub tier: RiskTier,
    /// The request's `context`.
    pub context: Option<&'a Map<String, Value>>,
    /// Evaluation time (the resolver's clock), µs since the epoch.
    pub now_us: i64,
}

/// Compiled conditions (capabilities excluded, see module docs).
#[derive(Debug, Default)]
pub struct CompiledConditions {
    /// Bit set of allowed tiers; 0 = no tier condition.
    pub risk_mask: u8,
    /// Agent patterns; `None` = no agent condition.
    pub agents: Option<Box<[Pattern]>>,
    /// Required context values.
    pub context_matches: Option<Box<[(String, Value)]>>,
    /// Time window.
    pub time_window: Option<TimeWindow>,
}

impl CompiledConditions {
    /// Compiles validated conditions.
    pub fn compile(c: Option<&Conditions>) -> Result<Self, String> {
        let Some(c) = c else {
            return Ok(Self::default());
        };
        let risk_mask = c
            .risk_tiers
            .as_ref()
            .map(|l| l.iter().fold(0u8, |m, t| m | t.bit()))
            .unwrap_or(0);
        let agents = match &c.agents {
            Some(l) => Some(
                l.iter()
                    .map(|p| Pattern::parse(p))
                    .collect::<Result<Vec<_>, _>>()?
                    .into_boxed_slice(),
            ),
            None => None,
        };
        let context_matches = c.context_matches.as_ref().map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Vec<_>>()
                .into_boxed_slice()
        });
        Ok(CompiledConditions {
            risk_mask,
            agents,
            context_matches,
            time_window: c.time_window.clone(),
        })
    }

    /// Whether the conditions hold for `ctx`.
    #[inline]
    pub fn holds(&self, ctx: &EvalCtx<'_>) -> bool {
        if self.risk_mask != 0 && self.risk_mask & ctx.tier.bit() == 0 {
            return false;
        }
        if let Some(agents) = &self.agents {
            if !agents.iter().any(|p| p.matches(ctx.agent_id)) {
                return false;
            }
        }
        if let Some(cm) = &self.context_matches {
            let Some(req) = ctx.context else { return false };
            if !cm
                .iter()
                .all(|(k, v)| req.get(k).is_some_and(|r| json_equal(r, v)))
            {
                return false;
            }
        }
        if let Some(w) = &self.time_window {
            if !window_holds(w, ctx.now_us) {
                return false;
            }
        }
        true
    }
}

/// JSON equality where numbers compare by value (`3` equals `3.0`); everything else as serde.
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Whether `now_us` is inside the window. `start == end` means the whole day. When the window
/// wraps midnight (`end < start`), the part after midnight belongs to the previous day's window,
/// so `days` is checked against the day the window started.
pub fn window_holds(w: &TimeWindow, now_us: i64) -> bool {
    let (day, minute) = weekday_and_minute(now_us, w.utc_offset_seconds);
    let (inside, window_day) = if w.start_minute == w.end_minute {
        (true, day)
    } else if w.start_minute < w.end_minute {
        (minute >= w.start_minute && minute < w.end_minute, day)
    } else if minute >= w.start_minute {
        (true, day)
    } else if minute < w.end_minute {
        (true, (day + 6) % 7)
    } else {
        (false, day)
    };
    inside && w.days.as_ref().is_none_or(|d| d.contains(&window_day))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::parse_rfc3339_us;

    fn tw(start: u32, end: u32, days: Option<Vec<u32>>, off: i64) -> TimeWindow {
        TimeWindow {
            start_minute: start,
            end_minute: end,
            days,
            utc_offset_seconds: off,
        }
    }

    #[test]
    fn business_hours() {
        let w = tw(9 * 60, 17 * 60, Some(vec![0, 1, 2, 3, 4]), 0);
        assert!(window_holds(
            &w,
            parse_rfc3339_us("2026-11-25T10:00:00Z").unwrap()
        )); // Wednesday
        assert!(
            !window_holds(&w, parse_rfc3339_us("2026-11-25T17:00:00Z").unwrap()),
            "end is exclusive"
        );
        assert!(
            !window_holds(&w, parse_rfc3339_us("2026-11-28T10:00:00Z").unwrap()),
            "Saturday"
        );
    }

    #[test]
    fn offsets_shift_the_window() {
        let w = tw(9 * 60, 17 * 60, None, 5 * 3600 + 1800);
        // 04:00Z is 09:30 at +05:30.
        assert!(window_holds(
            &w,
            parse_rfc3339_us("2026-11-25T04:00:00Z").unwrap()
        ));
        assert!(!window_holds(
            &w,
            parse_rfc3339_us("2026-11-25T12:00:00Z").unwrap()
        ));
    }

    #[test]
    fn wrapping_window_belongs_to_start_day() {
        let w = tw(22 * 60, 6 * 60, Some(vec![4]), 0); // Friday night
        assert!(window_holds(
            &w,
            parse_rfc3339_us("2026-11-27T23:00:00Z").unwrap()
        )); // Fri 23:00
        assert!(window_holds(
            &w,
            parse_rfc3339_us("2026-11-28T05:00:00Z").unwrap()
        )); // Sat 05:00
        assert!(!window_holds(
            &w,
            parse_rfc3339_us("2026-11-27T05:00:00Z").unwrap()
        )); // Fri 05:00 (Thu's window)
    }
}
