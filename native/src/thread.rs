//! A conversation's thread, walked one post at a time: the native twin of
//! `processor/domain/thread.py`, which stays the reference (the differential tests in
//! `tests/unit/native/` hold the two to the same items and the same stored form).
//!
//! The walk is a fixed handful of numbers, so a post after every post seen so far is one
//! `step`; `ending` adds what the clock alone decides at the end (inactivity, the wait
//! still open).

use std::cmp::Ordering;
use std::sync::Arc;

/// A team's name, shared between the marks and the walks that name it.
pub type Team = Arc<str>;

/// What a mark is: a customer post, an automated brand reply, a human reply by a team, or
/// a resolving reply (Python's codes "c", "b", "h<team>", "r").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Code {
    Customer,
    Bot,
    Human(Team),
    Resolve,
}

impl Code {
    /// The code of Python's stored form ("h" followed by the team for a human reply).
    pub fn parse(code: &str) -> Option<Code> {
        match code.as_bytes().first() {
            Some(b'c') if code.len() == 1 => Some(Code::Customer),
            Some(b'b') if code.len() == 1 => Some(Code::Bot),
            Some(b'r') if code.len() == 1 => Some(Code::Resolve),
            Some(b'h') => Some(Code::Human(Arc::from(&code[1..]))),
            _ => None,
        }
    }

    pub fn text(&self) -> String {
        match self {
            Code::Customer => "c".to_owned(),
            Code::Bot => "b".to_owned(),
            Code::Human(team) => format!("h{team}"),
            Code::Resolve => "r".to_owned(),
        }
    }

    /// At one instant: the customer's post first, then the brand's replies, then
    /// resolutions.
    fn rank(&self) -> u8 {
        match self {
            Code::Customer => 0,
            Code::Bot | Code::Human(_) => 1,
            Code::Resolve => 2,
        }
    }

    /// Python's order of the codes themselves (their strings), within one rank.
    fn cmp_text(&self, other: &Code) -> Ordering {
        match (self, other) {
            (Code::Human(a), Code::Human(b)) => a.as_bytes().cmp(b.as_bytes()),
            // "b" < "h<team>"; the other ranks hold one code each.
            (Code::Bot, Code::Human(_)) => Ordering::Less,
            (Code::Human(_), Code::Bot) => Ordering::Greater,
            _ => Ordering::Equal,
        }
    }
}

/// A post or a resolving reply at an event time.
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    pub at: f64,
    pub code: Code,
}

impl Mark {
    pub fn key(&self) -> MarkKey {
        MarkKey {
            at: self.at,
            rank: self.code.rank(),
            code: self.code.clone(),
        }
    }
}

/// The order of marks in the walk: event time, rank, code (Python's `mark_key`).
#[derive(Clone, Debug, PartialEq)]
pub struct MarkKey {
    pub at: f64,
    pub rank: u8,
    pub code: Code,
}

impl PartialOrd for MarkKey {
    fn partial_cmp(&self, other: &MarkKey) -> Option<Ordering> {
        Some(
            self.at
                .partial_cmp(&other.at)?
                .then(self.rank.cmp(&other.rank))
                .then_with(|| self.code.cmp_text(&other.code)),
        )
    }
}

/// How a conversation was resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    Explicit,
    Inactivity,
}

impl How {
    pub fn text(self) -> &'static str {
        match self {
            How::Explicit => "explicit",
            How::Inactivity => "inactivity",
        }
    }
}

/// What a step completes: a customer wait (answered at, or still waiting), a wait a
/// resolution stopped before any reply, a resolution.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Wait { start: f64, answered: Option<f64> },
    Stopped { start: f64, at: f64 },
    Resolution { at: f64, how: How },
}

/// A stopped wait whose SLA outcome the clock may still decide: start, stopped at,
/// deadline (kept by the conversation, which knows the deadlines).
pub type Pending = [f64; 3];

fn unassigned() -> Team {
    Arc::from("unassigned")
}

/// The walk of a thread up to its last stepped mark.
#[derive(Clone, Debug, PartialEq)]
pub struct ThreadWalk {
    /// Marks before it only name the team of a moment.
    pub opened_at: Option<f64>,
    pub inactivity: f64,
    pub last: Option<MarkKey>,
    pub last_team: Team,
    pub first_response_at: Option<f64>,
    pub first_response_team: Team,
    pub first_resolution_at: Option<f64>,
    pub first_resolution_team: Team,
    pub resolutions: i64,
    pub reopens: i64,
    pub open_now: bool,
    /// The customer waits for a next response since then.
    pub waiting_since: Option<f64>,
    /// The episode's last post, if a human reply.
    pub last_human: Option<f64>,
    pub unanswered: i64,
    /// Customer posts followed by a human reply.
    pub answered: i64,
    /// Posts until the first resolution (frozen by it): customer, brand, human replies.
    pub customer: i64,
    pub brand: i64,
    pub humans: i64,
    /// Set by `ending` only.
    pub awaiting_customer_since: Option<f64>,
    /// The longest wait for a next response so far, answered or stopped (seconds).
    pub longest_wait: f64,
    pub pending: Vec<Pending>,
}

impl ThreadWalk {
    pub fn new(opened_at: Option<f64>, inactivity: f64) -> ThreadWalk {
        ThreadWalk {
            opened_at,
            inactivity,
            last: None,
            last_team: unassigned(),
            first_response_at: None,
            first_response_team: unassigned(),
            first_resolution_at: None,
            first_resolution_team: unassigned(),
            resolutions: 0,
            reopens: 0,
            open_now: true,
            waiting_since: None,
            last_human: None,
            unanswered: 0,
            answered: 0,
            customer: 0,
            brand: 0,
            humans: 0,
            awaiting_customer_since: None,
            longest_wait: 0.0,
            pending: Vec::new(),
        }
    }

    /// Walk one mark that comes after every mark walked so far; completed items to `out`.
    pub fn step(&mut self, mark: &Mark, out: &mut Vec<Item>) {
        let at = mark.at;
        self.last = Some(mark.key());
        if let Code::Human(team) = &mark.code {
            self.last_team = team.clone();
        }
        match self.opened_at {
            Some(opened_at) if at >= opened_at => {}
            _ => return,
        }
        match mark.code {
            Code::Customer => {
                if let Some(last_human) = self.last_human {
                    if self.inactivity > 0.0 && at - last_human >= self.inactivity {
                        // The customer stayed silent long enough: resolved at the last reply.
                        self.resolve(last_human, How::Inactivity, out);
                    }
                }
                self.last_human = None;
                self.unanswered += 1;
                if self.resolutions == 0 {
                    self.customer += 1;
                }
                if !self.open_now {
                    self.reopens += 1;
                    self.open_now = true;
                }
                if self.first_response_at.is_some() && self.waiting_since.is_none() {
                    self.waiting_since = Some(at);
                }
            }
            Code::Human(_) => {
                self.answered += self.unanswered;
                self.unanswered = 0;
                if self.resolutions == 0 {
                    self.brand += 1;
                    self.humans += 1;
                }
                match self.first_response_at {
                    None => {
                        self.first_response_at = Some(at);
                        self.first_response_team = self.last_team.clone();
                    }
                    // Simultaneous replies: the last one's team.
                    Some(first) if at == first => {
                        self.first_response_team = self.last_team.clone();
                    }
                    Some(_) => {
                        if let Some(start) = self.waiting_since {
                            out.push(Item::Wait {
                                start,
                                answered: Some(at),
                            });
                            self.waited(start, at);
                        }
                    }
                }
                self.last_human = if self.open_now { Some(at) } else { None };
            }
            Code::Bot => {
                if self.resolutions == 0 {
                    self.brand += 1;
                }
            }
            Code::Resolve => {
                if self.open_now {
                    self.resolve(at, How::Explicit, out);
                    self.last_human = None;
                    if let Some(start) = self.waiting_since {
                        out.push(Item::Stopped { start, at });
                        self.waited(start, at);
                    }
                }
            }
        }
    }

    /// The customer's wait for a next response, since `start`, ends at `until`.
    fn waited(&mut self, start: f64, until: f64) {
        let wait = until - start;
        if wait > self.longest_wait {
            self.longest_wait = wait;
        }
        self.waiting_since = None;
    }

    fn resolve(&mut self, at: f64, how: How, out: &mut Vec<Item>) {
        out.push(Item::Resolution { at, how });
        self.open_now = false;
        self.resolutions += 1;
        if self.resolutions == 1 {
            self.first_resolution_at = Some(at);
            self.first_resolution_team = self.last_team.clone();
        }
    }

    /// The walk as the clock at `horizon` leaves it, its items to `out`: None when the
    /// clock changes nothing of it (the walk itself), else the changed copy.
    pub fn ending(&self, horizon: f64, out: &mut Vec<Item>) -> Option<ThreadWalk> {
        self.opened_at?;
        let mut changed = None;
        if let Some(last_human) = self.last_human {
            if self.inactivity > 0.0 {
                let mut end = self.clone();
                if self.inactive_by(horizon) {
                    end.resolve(last_human, How::Inactivity, out);
                } else {
                    end.awaiting_customer_since = Some(last_human);
                }
                changed = Some(end);
            }
        }
        let waiting_since = changed
            .as_ref()
            .map_or(self.waiting_since, |end| end.waiting_since);
        if let Some(start) = waiting_since {
            out.push(Item::Wait {
                start,
                answered: None,
            });
        }
        changed
    }

    /// The customer has been silent after a human reply for the inactivity period.
    fn inactive_by(&self, horizon: f64) -> bool {
        match self.last_human {
            Some(last_human) => self.inactivity > 0.0 && horizon - last_human >= self.inactivity,
            None => false,
        }
    }

    /// The first resolution as the clock at `horizon` sees it (an inactivity one once due).
    pub fn first_resolution_by(&self, horizon: f64) -> Option<f64> {
        if self.first_resolution_at.is_some() {
            return self.first_resolution_at;
        }
        if self.inactive_by(horizon) {
            self.last_human
        } else {
            None
        }
    }

    /// Resolutions as the clock at `horizon` sees them (an inactivity one once due).
    pub fn resolutions_by(&self, horizon: f64) -> i64 {
        self.resolutions + i64::from(self.inactive_by(horizon))
    }

    /// No mark at or after the opening was walked: the opening may still move.
    pub fn walked_nothing(&self) -> bool {
        self.first_response_at.is_none()
            && self.resolutions == 0
            && self.unanswered == 0
            && self.customer == 0
            && self.brand == 0
            && self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(at: f64, code: &str) -> Mark {
        Mark {
            at,
            code: Code::parse(code).unwrap(),
        }
    }

    #[test]
    fn a_reply_after_a_wait_completes_it_and_a_resolution_stops_the_next() {
        let mut walk = ThreadWalk::new(Some(0.0), 0.0);
        let mut out = Vec::new();
        for (at, code) in [
            (0.0, "c"),
            (60.0, "hsupport"),
            (100.0, "c"),
            (400.0, "hbilling"),
        ] {
            walk.step(&mark(at, code), &mut out);
        }
        assert_eq!(
            out,
            vec![Item::Wait {
                start: 100.0,
                answered: Some(400.0)
            }]
        );
        assert_eq!(walk.first_response_at, Some(60.0));
        assert_eq!(&*walk.first_response_team, "support");
        assert_eq!(walk.longest_wait, 300.0);
        out.clear();
        walk.step(&mark(500.0, "c"), &mut out);
        walk.step(&mark(700.0, "r"), &mut out);
        assert_eq!(
            out,
            vec![
                Item::Resolution {
                    at: 700.0,
                    how: How::Explicit
                },
                Item::Stopped {
                    start: 500.0,
                    at: 700.0
                },
            ]
        );
        assert_eq!(&*walk.first_resolution_team, "billing");
    }

    #[test]
    fn inactivity_resolves_at_the_last_reply_once_the_horizon_passes_it() {
        let mut walk = ThreadWalk::new(Some(0.0), 3600.0);
        let mut out = Vec::new();
        walk.step(&mark(0.0, "c"), &mut out);
        walk.step(&mark(10.0, "hsupport"), &mut out);
        let early = walk.ending(3000.0, &mut out).unwrap();
        assert_eq!(early.awaiting_customer_since, Some(10.0));
        assert!(out.is_empty());
        let late = walk.ending(3610.0, &mut out).unwrap();
        assert_eq!(
            out,
            vec![Item::Resolution {
                at: 10.0,
                how: How::Inactivity
            }]
        );
        assert_eq!(late.first_resolution_at, Some(10.0));
        assert_eq!(walk.resolutions, 0, "ending never changes the walk itself");
    }

    #[test]
    fn marks_order_by_time_then_customer_brand_resolution_then_team_name() {
        let keys: Vec<MarkKey> = ["c", "b", "ha", "hb", "r"]
            .iter()
            .map(|code| mark(5.0, code).key())
            .collect();
        for pair in keys.windows(2) {
            assert_eq!(pair[0].partial_cmp(&pair[1]), Some(Ordering::Less));
        }
        assert_eq!(
            mark(4.0, "r").key().partial_cmp(&keys[0]),
            Some(Ordering::Less)
        );
    }
}
