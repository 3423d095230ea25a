//! The future event list: a binary min-heap of small `Copy` events ordered by (time, sequence).
//!
//! Events are 24 bytes with no heap data, so pushing and popping never allocates once the heap
//! has grown to its working size. Ties in time are broken by the order in which events were
//! scheduled, which makes runs reproducible and simultaneous events FIFO. Times are
//! non-negative finite f64, whose IEEE bit patterns order like the numbers, so comparing the bits
//! as integers is exact and cheaper than a float comparison.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One scheduled event: what happens (`kind`, with up to two small operands) and when.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Event {
    /// Bits of the (non-negative) event time in seconds.
    key: u64,
    /// Scheduling order, to break ties.
    seq: u32,
    /// What happens.
    pub kind: Kind,
    /// First operand (an entity index).
    pub a: u32,
    /// Second operand (a generation or a user index).
    pub b: u32,
}

impl Event {
    /// The event time in seconds.
    #[inline]
    pub fn time(&self) -> f64 {
        f64::from_bits(self.key)
    }
}

/// Event kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An open workload's next request arrives (a = workload).
    Arrival,
    /// A closed workload's user ends thinking (a = workload, b = user).
    UserWakes,
    /// A request ends a pause between flow steps (a = request).
    FlowResume,
    /// A visit reaches its instance over the network (a = visit).
    Reach,
    /// A visit's CPU work ends on a dedicated core (a = visit).
    CpuDone,
    /// The next CPU completion on a processor-shared host (a = host, b = generation).
    HostDone,
    /// A successful response reaches the caller (a = call slot, b = generation).
    ResponseOk,
    /// A failed response reaches the caller (a = call slot, b = generation).
    ResponseErr,
    /// The head of a timeout line is due (a = line).
    TimeoutLine,
    /// A backoff ends and the call is retried (a = call slot, b = generation).
    Retry,
    /// A visit ends the non-CPU part of its work (a = visit).
    Hold,
    /// A lost attempt of a call without a timeout gives up (a = call slot, b = generation).
    Lost,
    /// A scenario action is due (a = action index).
    Action,
    /// A pod becomes ready (a = instance, b = its lifecycle generation).
    PodReady,
    /// Health checks notice a dead instance (a = instance, b = its lifecycle generation).
    Detect,
    /// An autoscaler evaluates (a = autoscaler).
    HpaSync,
    /// A canary's analysis is due (a = deployment).
    Analysis,
    /// Blue/green: the old pods' grace period ends (a = deployment).
    Retire,
    /// End of a timeline bucket (a = bucket index).
    Tick,
    /// The warm-up ends (snapshot of the time-integrated counters).
    Warmup,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.seq == other.seq
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Event {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest event first.
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        (other.key, other.seq).cmp(&(self.key, self.seq))
    }
}

/// The future event list.
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    heap: BinaryHeap<Event>,
    seq: u32,
}

impl EventQueue {
    /// Schedules `kind(a, b)` at `time` (seconds, finite and >= 0).
    #[inline]
    pub fn push(&mut self, time: f64, kind: Kind, a: u32, b: u32) {
        debug_assert!(time >= 0.0 && time.is_finite(), "bad event time {time}");
        // `+ 0.0` turns a -0.0 into +0.0 so the bit order holds.
        let key = (time + 0.0).to_bits();
        self.seq = self.seq.wrapping_add(1);
        self.heap.push(Event {
            key,
            seq: self.seq,
            kind,
            a,
            b,
        });
    }

    /// Removes and returns the earliest event.
    #[inline]
    pub fn pop(&mut self) -> Option<Event> {
        self.heap.pop()
    }

    /// Number of pending events.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_then_fifo_order() {
        let mut q = EventQueue::default();
        q.push(2.0, Kind::Arrival, 0, 0);
        q.push(1.0, Kind::Arrival, 1, 0);
        q.push(2.0, Kind::Arrival, 2, 0);
        q.push(0.0, Kind::Arrival, 3, 0);
        q.push(1e-300, Kind::Arrival, 4, 0);
        let order: Vec<u32> = std::iter::from_fn(|| q.pop()).map(|e| e.a).collect();
        assert_eq!(order, vec![3, 4, 1, 0, 2]);
        assert_eq!(q.len(), 0);
    }
}
