//! IAM-style patterns: `*` matches any run of characters (dots included), `?` exactly one
//! character, everything else literally; anchored at both ends; case-sensitive.

/// A precompiled pattern. Common shapes get a fast representation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// No wildcard: string equality.
    Exact(Box<str>),
    /// `*` alone.
    Any,
    /// `prefix*` with no other wildcard.
    Prefix(Box<str>),
    /// `*suffix` with no other wildcard.
    Suffix(Box<str>),
    /// Anything else, matched by a linear-time backtracking matcher.
    Glob(Box<[char]>),
}

impl Pattern {
    /// Parses a pattern. Empty patterns are refused.
    pub fn parse(p: &str) -> Result<Pattern, String> {
        if p.is_empty() {
            return Err("a pattern must not be empty".into());
        }
        if p.len() > 512 {
            return Err(format!(
                "pattern of {} bytes is too long (limit 512)",
                p.len()
            ));
        }
        let stars = p.matches('*').count();
        let has_q = p.contains('?');
        Ok(match (stars, has_q) {
            (0, false) => Pattern::Exact(p.into()),
            _ if p.chars().all(|c| c == '*') => Pattern::Any,
            (1, false) if p.ends_with('*') => Pattern::Prefix(p[..p.len() - 1].into()),
            (1, false) if p.starts_with('*') => Pattern::Suffix(p[1..].into()),
            _ => Pattern::Glob(p.chars().collect()),
        })
    }

    /// Whether `s` matches.
    #[inline]
    pub fn matches(&self, s: &str) -> bool {
        match self {
            Pattern::Exact(e) => **e == *s,
            Pattern::Any => true,
            Pattern::Prefix(p) => s.starts_with(&**p),
            Pattern::Suffix(x) => s.ends_with(&**x),
            Pattern::Glob(g) => glob_match(g, s),
        }
    }
}

/// Wildcard matching with single-star backtracking: O(len(p) × len(s)) worst case, no recursion.
fn glob_match(p: &[char], s: &str) -> bool {
    let s: Vec<char> = s.chars().collect();
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == s[si])) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Pattern::parse(p).unwrap().matches(s)
    }

    #[test]
    fn semantics() {
        assert!(m("orders.refund", "orders.refund"));
        assert!(!m("orders.refund", "orders.refunds"));
        assert!(m("orders.*", "orders.refund"));
        assert!(m("orders.*", "orders.refund.partial"), "star crosses dots");
        assert!(!m("orders.*", "order.refund"));
        assert!(m("*", "anything.at.all"));
        assert!(m("*.delete", "db.table.delete"));
        assert!(m("orders.?et", "orders.get"));
        assert!(!m("orders.?et", "orders.et"));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(!m("a*b*c", "axxbyy"));
        assert!(!m("Orders.*", "orders.x"), "case-sensitive");
        assert!(m("support-*", "support-bot-1"));
        assert!(m("??", "é1"), "? is one character, not one byte");
    }

    #[test]
    fn empty_is_refused() {
        assert!(Pattern::parse("").is_err());
    }
}
