//! The discrete-event engine: one replication of a [`Prepared`] network.
//!
//! **Time** is f64 seconds. Every input (rates, service times, latencies) is a real number of
//! seconds, the analytic models it is checked against are too, and the 53-bit mantissa still
//! resolves 0.1 ns after 10⁵ s of simulated time, far below any service time worth modelling.
//! Integer nanoseconds would add a rounding at every sample for no gain in determinism: IEEE
//! arithmetic is exact-repeatable, and ties are ordered by the event sequence number.
//! The library never reads the wall clock; randomness comes only from the replication's seeded
//! [`SimRng`] stream.
//!
//! **Speed.** The future event list is a binary heap of 24-byte `Copy` events; visits, call slots
//! and requests live in arenas with free lists, so the steady state allocates nothing; per-entity
//! state sits in flat vectors indexed by `u32`. Work that finishes at the same instant with no
//! network latency (a response to the caller, a flow moving on) is handled inline rather than
//! through the queue. Call timeouts do not enter the heap: calls with the same timeout share a
//! FIFO "line" whose deadlines arrive in order, and only each line's head has an event. Hosts
//! that can never be oversubscribed (cores ≥ workers placed on them)
//! schedule one completion per CPU phase directly; the others run processor sharing with a
//! virtual clock, so a change in the number of busy workers costs one rescheduled event, not one
//! per job.
//!
//! **Statistics** are collected inside the window `[warmup, duration]`: time-integrated counts
//! (busy workers, visits in system) are sums over visits of the overlap between their stay and
//! the window, which equals integrating the count over time; the visits still present at the end
//! add their partial stays.
//!
//! **Dynamics.** With a [`Plan`] the engine also runs scenario actions (kills, restarts,
//! network rules, gray failures, error injection, core loss, rollouts), health checks that
//! eject dead instances after a delay, autoscalers and the controllers that create, place and
//! drain pods (`world.rs`), and records a timeline of fixed-width buckets. Instances have a
//! lifecycle status; load balancers pick among the *routable* ones (ready, or dead but not yet
//! noticed). A plain run has an empty plan and takes none of these paths, so it draws the same
//! random numbers as before they existed.
//!
//! **Failure causes.** Every failed attempt has a cause (timeout, rejected, failed, breaker
//! open); a failed call passes its last attempt's cause to its caller, so a request that fails
//! is counted under the cause at the bottom of the chain.
//!
//! **Lifecycle of a call.** A *slot* represents one lane (one call of a step, or one flow visit)
//! of a caller. Each attempt creates a *visit* at an instance picked by the load balancer. The
//! slot's generation changes when an attempt ends (response, timeout) so that a late response
//! from a timed-out attempt, whose visit keeps running downstream, is recognised and ignored.

mod arena;
mod prepared;
mod queue;
mod world;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};

pub(crate) use prepared::Prepared;

use crate::net::{Jitter, Load, LoadBalancing};
use crate::plan::{LOST_GIVE_UP, Plan};
use crate::rng::SimRng;
use crate::stats::{
    BATCHES, BREAKER, EndpointStats, FAILED, InstanceStats, REJECTED, RepSeries, RepStats, SloRec,
    TIMEOUT, WorkloadStats,
};
use arena::Arena;
use prepared::NONE;
use queue::{EventQueue, Kind};
use world::{Status, World};

/// Run parameters of one replication.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunCfg {
    pub duration: f64,
    pub warmup: f64,
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Free,
    Transit,
    Queued,
    Cpu,
    /// Holding the worker without computing (the slower-but-not-CPU part of a version).
    Hold,
    Calls,
    /// Its instance died; kept until its pending event or calls are over, then freed.
    Dead,
}

/// A visit: one attempt of a call being served at an instance.
#[derive(Debug, Clone, Copy)]
struct Visit {
    endpoint: u32,
    instance: u32,
    /// The caller's slot and its generation when this attempt was made.
    slot: u32,
    gen_: u32,
    /// Zone the response travels back to.
    caller_zone: u32,
    /// Current step and calls still outstanding in it (plus a guard while launching).
    step: u32,
    pending: u32,
    failed: bool,
    /// Injected error: the visit fails after its own work, without calling further.
    inject: bool,
    /// Cause of the first failed call (when `failed`).
    cause: u8,
    state: State,
    t_arrive: f64,
    t_start: f64,
    /// Seconds the worker is held after the CPU work.
    hold: f64,
    /// One-way latency added by network rules, paid again by the response.
    extra: f64,
}

/// A call slot: one lane of a caller (a visit's call, or a request's flow visit).
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// The waiting visit or request; NONE for an asynchronous call nobody waits for.
    owner: u32,
    owner_is_request: bool,
    /// The calling instance (whose circuit breaker applies); NONE for a request's flow visit.
    caller_instance: u32,
    lane: u32,
    copies_left: u32,
    attempt: u32,
    caller_zone: u32,
    /// Cause of the last failed attempt.
    cause: u8,
    /// Holds a bulkhead permit.
    permit: bool,
}

/// A workload request walking its flow.
#[derive(Debug, Clone, Copy)]
struct Request {
    workload: u32,
    node: u32,
    /// Closed workloads: the user; NONE for open ones.
    user: u32,
    t_start: f64,
    /// Time spent pausing between flow steps, excluded from latency.
    paused: f64,
}

/// Slices of a sliding window (circuit breakers, retry budgets).
const SLICES: usize = 10;

/// Counts over a sliding window of `SLICES` slices: (a, b) per slice, the oldest dropped as
/// time moves on.
#[derive(Debug, Clone, Copy, Default)]
struct Sliding {
    a: [f64; SLICES],
    b: [f64; SLICES],
    cur: usize,
    /// Start of the current slice.
    since: f64,
}

impl Sliding {
    /// Moves the window to `now` (slices of `slice` seconds).
    fn advance(&mut self, now: f64, slice: f64) {
        if now - self.since >= slice * SLICES as f64 {
            *self = Sliding {
                since: now,
                ..Sliding::default()
            };
            return;
        }
        while now - self.since >= slice {
            self.since += slice;
            self.cur = (self.cur + 1) % SLICES;
            self.a[self.cur] = 0.0;
            self.b[self.cur] = 0.0;
        }
    }

    fn sums(&self) -> (f64, f64) {
        (self.a.iter().sum(), self.b.iter().sum())
    }
}

/// Circuit-breaker state of one (call, calling instance).
#[derive(Debug, Clone, Copy, Default)]
struct BreakerState {
    mode: BreakerMode,
    consecutive: u32,
    /// Attempts (a) and failures (b) over the sliding window.
    window: Sliding,
    open_until: f64,
    probes_out: u32,
    probes_ok: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum BreakerMode {
    #[default]
    Closed,
    Open,
    HalfOpen,
}

/// Retry-budget counters of one call: first attempts (a) and retries (b) over the sliding
/// window.
type BudgetState = Sliding;

/// How many responses may be handled inside one another before the rest go through the queue.
const MAX_INLINE_DEPTH: u32 = 64;

#[derive(Debug, Default)]
struct InstanceRt {
    busy: u32,
    outstanding: u32,
    queue: VecDeque<u32>,
}

/// Processor-sharing state of a host: a virtual clock advancing at `min(1, cores/active)`.
#[derive(Debug)]
struct PsHost {
    host: u32,
    cores: f64,
    active: u32,
    vclock: f64,
    t_last: f64,
    /// (virtual finish time bits, visit), earliest first.
    jobs: BinaryHeap<Reverse<(u64, u32)>>,
    generation: u32,
}

impl PsHost {
    #[inline]
    fn rate(&self) -> f64 {
        let a = f64::from(self.active);
        if a <= self.cores { 1.0 } else { self.cores / a }
    }
}

struct Engine<'p> {
    p: &'p Prepared,
    plan: &'p Plan,
    rep: u32,
    /// Scenario state: instance lifecycles, routes, controllers (see `world.rs`).
    w: World,
    /// Bulkhead counters.
    bulk: Vec<u32>,
    /// Per SLO index: by workload and by endpoint, the SLOs they feed.
    slo_by_workload: Vec<Vec<u32>>,
    slo_by_endpoint: Vec<Vec<u32>>,
    progress: &'p (dyn Fn(u32, f64) + Sync),
    /// Set by the caller to stop the run (checked every [`CANCEL_CHECK`] events).
    cancel: &'p AtomicBool,
    now: f64,
    warmup: f64,
    end: f64,
    q: EventQueue,
    rng: SimRng,
    visits: Arena<Visit>,
    slots: Arena<Slot>,
    slot_gen: Vec<u32>,
    requests: Arena<Request>,
    inst: Vec<InstanceRt>,
    ps: Vec<PsHost>,
    open_seg: Vec<usize>,
    breakers: Vec<BreakerState>,
    budgets: Vec<BudgetState>,
    /// Pending timeouts per distinct timeout value: (deadline, slot, generation), in deadline
    /// order; `line_armed` says whether the line's head has an event in the heap.
    lines: Vec<VecDeque<(f64, u32, u32)>>,
    line_armed: Vec<bool>,
    /// Nesting of inline responses (see `respond`).
    depth: u32,
    stats: RepStats,
}

/// Events between two looks at the cancel flag: a relaxed atomic load every 4096 events costs
/// nothing measurable, and a cancelled run stops within a few milliseconds.
const CANCEL_CHECK: u32 = 1 << 12;

/// Runs replication `rep` of `p` under `plan` and returns what it measured; `progress` is
/// called now and then with the replication and its simulated time. `None` when `cancel` was
/// set before the replication finished (it stops within [`CANCEL_CHECK`] events).
pub(crate) fn run_replication(
    p: &Prepared,
    plan: &Plan,
    cfg: RunCfg,
    rep: u32,
    progress: &(dyn Fn(u32, f64) + Sync),
    cancel: &AtomicBool,
) -> Option<RepStats> {
    if cancel.load(AtomicOrdering::Relaxed) {
        return None;
    }
    let mut e = Engine::new(p, plan, cfg, rep, progress, cancel);
    e.init();
    if !e.run() {
        return None;
    }
    Some(e.finish_run())
}

impl<'p> Engine<'p> {
    fn new(
        p: &'p Prepared,
        plan: &'p Plan,
        cfg: RunCfg,
        rep: u32,
        progress: &'p (dyn Fn(u32, f64) + Sync),
        cancel: &'p AtomicBool,
    ) -> Self {
        let window = (cfg.duration - cfg.warmup).max(0.0);
        let ns = p.svc_instances.len();
        let mut slo_by_workload = vec![Vec::new(); p.workloads.len()];
        let mut slo_by_endpoint = vec![Vec::new(); p.ep_service.len()];
        for (k, slo) in plan.slos.iter().enumerate() {
            match slo.target {
                crate::plan::SloTarget::Workload(w) => {
                    if let Some(v) = slo_by_workload.get_mut(w as usize) {
                        v.push(k as u32);
                    }
                }
                crate::plan::SloTarget::Service(s, e) => {
                    for (ep, &svc) in p.ep_service.iter().enumerate() {
                        if svc == s && e.is_none_or(|e| e as usize == ep) {
                            slo_by_endpoint[ep].push(k as u32);
                        }
                    }
                }
            }
        }
        let series = (plan.bucket > 0.0).then(|| {
            // At most 20,000 buckets: wider ones for very long runs.
            let width = plan.bucket.max(cfg.duration / 20_000.0);
            RepSeries::new(width, cfg.duration, p.workloads.len(), ns, plan.slos.len())
        });
        Engine {
            p,
            plan,
            rep,
            w: World::new(p, plan),
            bulk: vec![0; p.bulk_len],
            slo_by_workload,
            slo_by_endpoint,
            progress,
            cancel,
            now: 0.0,
            warmup: cfg.warmup,
            end: cfg.duration,
            q: EventQueue::default(),
            rng: SimRng::stream(cfg.seed, rep),
            visits: Arena::default(),
            slots: Arena::default(),
            slot_gen: Vec::new(),
            requests: Arena::default(),
            inst: (0..p.inst_service.len())
                .map(|_| InstanceRt::default())
                .collect(),
            ps: p
                .ps_hosts
                .iter()
                .map(|h| PsHost {
                    host: h.host,
                    cores: h.cores,
                    active: 0,
                    vclock: 0.0,
                    t_last: 0.0,
                    jobs: BinaryHeap::new(),
                    generation: 0,
                })
                .collect(),
            open_seg: vec![0; p.workloads.len()],
            breakers: vec![BreakerState::default(); p.breaker_lane.len()],
            budgets: vec![BudgetState::default(); p.lanes.len()],
            lines: vec![VecDeque::new(); p.timeout_lines],
            line_armed: vec![false; p.timeout_lines],
            depth: 0,
            stats: RepStats {
                short_circuits: 0,
                events: 0,
                visits: 0,
                timeouts: 0,
                retries: 0,
                window,
                workloads: p.workloads.iter().map(|_| WorkloadStats::new()).collect(),
                instances: vec![InstanceStats::default(); p.inst_service.len()],
                endpoints: vec![EndpointStats::default(); p.ep_service.len()],
                host_busy: vec![0.0; p.hosts],
                causes: [0; 4],
                svc_busy: vec![0.0; ns],
                svc_cap: vec![0.0; ns],
                series,
                slos: plan
                    .slos
                    .iter()
                    .map(|_| SloRec {
                        hist: crate::stats::latency_histogram(),
                        errors: 0,
                    })
                    .collect(),
                decisions: Vec::new(),
            },
        }
    }

    /// Length of `[a, now]` inside the measurement window.
    #[inline]
    fn overlap(&self, a: f64) -> f64 {
        (self.now - a.max(self.warmup)).max(0.0)
    }

    #[inline]
    fn in_window(&self) -> bool {
        self.now >= self.warmup
    }

    #[inline]
    fn schedule(&mut self, at: f64, kind: Kind, a: u32, b: u32) {
        if at <= self.end {
            self.q.push(at, kind, a, b);
        }
    }

    fn init(&mut self) {
        self.init_world();
        for w in 0..self.p.workloads.len() {
            match &self.p.workloads[w].load {
                Load::Open { .. } => self.schedule_arrival(w as u32),
                Load::Closed { users, think_time } => {
                    for u in 0..*users {
                        let t = think_time.sample(&mut self.rng);
                        self.schedule(t, Kind::UserWakes, w as u32, u);
                    }
                }
            }
        }
    }

    /// Processes events up to the end; `false` when cancelled first.
    fn run(&mut self) -> bool {
        let mut countdown = 0u32;
        while let Some(ev) = self.q.pop() {
            let t = ev.time();
            if t > self.end {
                break;
            }
            self.now = t;
            self.stats.events += 1;
            countdown = countdown.wrapping_add(1);
            if countdown.is_multiple_of(CANCEL_CHECK) {
                if self.cancel.load(AtomicOrdering::Relaxed) {
                    return false;
                }
                if countdown.is_multiple_of(1 << 16) {
                    (self.progress)(self.rep, t);
                }
            }
            match ev.kind {
                Kind::Arrival => {
                    self.schedule_arrival(ev.a);
                    self.start_request(ev.a, NONE);
                }
                Kind::UserWakes => self.start_request(ev.a, ev.b),
                Kind::FlowResume => self.visit_flow_step(ev.a),
                Kind::Reach => self.reach(ev.a),
                Kind::CpuDone => self.cpu_done(ev.a),
                Kind::HostDone => self.host_done(ev.a, ev.b),
                Kind::ResponseOk => self.on_response(ev.a, ev.b, true),
                Kind::ResponseErr => self.on_response(ev.a, ev.b, false),
                Kind::TimeoutLine => self.timeout_line(ev.a as usize),
                Kind::Retry => {
                    if self.slot_gen[ev.a as usize] == ev.b {
                        self.issue(ev.a);
                    } else {
                        self.stats.events -= 1;
                    }
                }
                Kind::Hold => self.hold_done(ev.a),
                Kind::Lost => {
                    if self.slot_gen[ev.a as usize] == ev.b {
                        self.on_timeout(ev.a, ev.b);
                    } else {
                        self.stats.events -= 1;
                    }
                }
                Kind::Action => self.action(ev.a as usize),
                Kind::PodReady => self.pod_ready(ev.a, ev.b),
                Kind::Detect => self.detect(ev.a, ev.b),
                Kind::HpaSync => self.hpa_sync(ev.a as usize),
                Kind::Analysis => self.canary_analysis(ev.a as usize),
                Kind::Retire => self.retire_old(ev.a as usize),
                Kind::Tick => {
                    self.stats.events -= 1;
                    self.tick(ev.a as usize);
                }
                Kind::Warmup => {
                    self.stats.events -= 1;
                    self.warmup_snapshot();
                }
            }
        }
        self.now = self.end;
        (self.progress)(self.rep, self.end);
        true
    }

    /// Closes the books: adds the partial stays of visits still present and the last stretch of
    /// processor-shared hosts.
    fn finish_run(mut self) -> RepStats {
        for ps in 0..self.ps.len() {
            self.ps_advance(ps);
        }
        let end = self.end;
        let warmup = self.warmup;
        let ov = |a: f64| (end - a.max(warmup)).max(0.0);
        self.close_world();
        for v in self.visits.all() {
            let (is, ep) = (v.instance as usize, v.endpoint as usize);
            match v.state {
                State::Free | State::Transit | State::Dead => {}
                State::Queued => {
                    self.stats.instances[is].in_system_area += ov(v.t_arrive);
                    self.stats.endpoints[ep].in_system_area += ov(v.t_arrive);
                }
                State::Cpu | State::Hold | State::Calls => {
                    let (stay, busy) = (ov(v.t_arrive), ov(v.t_start));
                    self.stats.instances[is].in_system_area += stay;
                    self.stats.endpoints[ep].in_system_area += stay;
                    self.stats.instances[is].busy_area += busy;
                    self.stats.endpoints[ep].busy_area += busy;
                    let host = self.w.inst_host[is];
                    if v.state == State::Cpu && host != NONE && self.w.inst_ps[is] == NONE {
                        self.stats.host_busy[host as usize] += busy;
                    }
                }
            }
        }
        self.stats
    }

    // ---- workloads -------------------------------------------------------------------------

    /// Schedules the next arrival of open workload `w` after `now`: inversion of the integrated
    /// piecewise-constant rate, i.e. an Exp(1) amount of "rate × time" spent segment by segment.
    fn schedule_arrival(&mut self, w: u32) {
        let Load::Open { schedule } = &self.p.workloads[w as usize].load else {
            return;
        };
        let mut seg = self.open_seg[w as usize];
        let mut t = self.now;
        let mut budget = self.rng.exp(1.0);
        loop {
            while seg < schedule.len() && schedule[seg].0 <= t {
                seg += 1;
            }
            let rate = if seg == 0 { 0.0 } else { schedule[seg - 1].1 };
            let seg_end = schedule.get(seg).map_or(f64::INFINITY, |s| s.0);
            if rate > 0.0 && t + budget / rate <= seg_end {
                t += budget / rate;
                break;
            }
            if seg_end == f64::INFINITY || seg_end > self.end {
                self.open_seg[w as usize] = seg;
                return;
            }
            budget -= rate * (seg_end - t);
            t = seg_end;
        }
        self.open_seg[w as usize] = seg;
        self.schedule(t, Kind::Arrival, w, 0);
    }

    fn start_request(&mut self, w: u32, user: u32) {
        if let Some(se) = &mut self.stats.series {
            let b = se.bucket(self.now);
            se.arrivals[b * se.nw + w as usize] += 1;
        }
        let start = self.p.workloads[w as usize].start;
        let r = self.requests.alloc(Request {
            workload: w,
            node: start,
            user,
            t_start: self.now,
            paused: 0.0,
        });
        self.visit_flow_step(r);
    }

    fn visit_flow_step(&mut self, r: u32) {
        let req = *self.requests.get(r);
        let lane = self.p.workloads[req.workload as usize].lane[req.node as usize];
        let s = self.new_slot(Slot {
            owner: r,
            owner_is_request: true,
            caller_instance: NONE,
            lane,
            copies_left: 1,
            attempt: 0,
            caller_zone: NONE,
            cause: FAILED,
            permit: false,
        });
        self.issue(s);
    }

    fn flow_step_done(&mut self, r: u32, ok: bool, cause: u8) {
        if !ok {
            self.end_request(r, false, cause);
            return;
        }
        let req = *self.requests.get(r);
        let wp = &self.p.workloads[req.workload as usize];
        let next = &wp.next[req.node as usize];
        let chosen = match next.len() {
            0 => None,
            _ => {
                let u = self.rng.uniform();
                next.iter().find(|&&(_, cum)| u < cum).map(|&(to, _)| to)
            }
        };
        let Some(to) = chosen else {
            self.end_request(r, true, 0);
            return;
        };
        let pause = wp.think[req.node as usize]
            .as_ref()
            .map(|d| d.sample(&mut self.rng));
        let rq = self.requests.get_mut(r);
        rq.node = to;
        match pause {
            Some(d) if d > 0.0 => {
                rq.paused += d;
                self.schedule(self.now + d, Kind::FlowResume, r, 0);
            }
            _ => self.visit_flow_step(r),
        }
    }

    fn end_request(&mut self, r: u32, ok: bool, cause: u8) {
        let req = *self.requests.get(r);
        self.requests.release(r);
        let w = req.workload as usize;
        let latency = self.now - req.t_start - req.paused;
        self.record_slo_workload(w, ok, latency);
        if let Some(se) = &mut self.stats.series {
            let b = se.bucket(self.now);
            let k = b * se.nw + w;
            if ok {
                se.ok[k] += 1;
                se.hist[k].record(latency);
            } else {
                se.err[k][cause as usize] += 1;
            }
        }
        if self.in_window() {
            if !ok {
                self.stats.causes[cause as usize] += 1;
            }
            if ok {
                let latency = self.now - req.t_start - req.paused;
                let window = self.stats.window;
                let batch = if window > 0.0 {
                    (((self.now - self.warmup) / window) * BATCHES as f64) as usize
                } else {
                    0
                };
                self.stats.workloads[w].record(latency, batch.min(BATCHES - 1));
            } else {
                self.stats.workloads[w].errors += 1;
            }
        }
        if let (true, Load::Closed { think_time, .. }) =
            (req.user != NONE, &self.p.workloads[w].load)
        {
            let t = self.now + think_time.sample(&mut self.rng);
            self.schedule(t, Kind::UserWakes, req.workload, req.user);
        }
    }

    // ---- calls -----------------------------------------------------------------------------

    fn new_slot(&mut self, slot: Slot) -> u32 {
        let s = self.slots.alloc(slot);
        if s as usize >= self.slot_gen.len() {
            self.slot_gen.push(0);
        }
        s
    }

    /// Picks a routable instance of `svc` by its load-balancing policy (and the canary split),
    /// or NONE when there is none.
    fn pick(&mut self, svc: u32) -> u32 {
        let mut pool = 0usize;
        let weight = self.w.canary_weight[svc as usize];
        if weight > 0.0
            && !self.w.routes[svc as usize][1].is_empty()
            && (self.w.routes[svc as usize][0].is_empty() || self.rng.uniform() < weight)
        {
            pool = 1;
        }
        let list = &self.w.routes[svc as usize][pool];
        let n = list.len() as u32;
        if n <= 1 {
            return list.first().copied().unwrap_or(NONE);
        }
        let rr = &mut self.w.rr[svc as usize][pool];
        match self.p.svc_lb[svc as usize] {
            LoadBalancing::RoundRobin => {
                let k = if *rr >= n { 0 } else { *rr };
                *rr = if k + 1 == n { 0 } else { k + 1 };
                list[k as usize]
            }
            LoadBalancing::Random => list[self.rng.below(n) as usize],
            LoadBalancing::LeastOutstanding => {
                let k = if *rr >= n { 0 } else { *rr };
                *rr = if k + 1 == n { 0 } else { k + 1 };
                let mut best = list[k as usize];
                let mut best_load = self.inst[best as usize].outstanding;
                for j in 1..n {
                    let idx = k + j;
                    let cand = list[(if idx >= n { idx - n } else { idx }) as usize];
                    let load = self.inst[cand as usize].outstanding;
                    if load < best_load {
                        best = cand;
                        best_load = load;
                    }
                }
                best
            }
            LoadBalancing::PowerOfTwo => {
                let a = self.rng.below(n);
                let mut b = self.rng.below(n - 1);
                if b >= a {
                    b += 1;
                }
                let list = &self.w.routes[svc as usize][pool];
                let (a, b) = (list[a as usize], list[b as usize]);
                if self.inst[b as usize].outstanding < self.inst[a as usize].outstanding {
                    b
                } else {
                    a
                }
            }
        }
    }

    /// Sends one attempt of slot `s` to an instance.
    fn issue(&mut self, s: u32) {
        let slot = *self.slots.get(s);
        let gen_ = self.slot_gen[s as usize];
        let lane = &self.p.lanes[slot.lane as usize];
        let (target, service, timeout, line) =
            (lane.target, lane.service, lane.timeout, lane.timeout_line);
        if slot.attempt == 0
            && let Some(b) = lane.retry.and_then(|r| r.budget)
        {
            let st = self.budget(slot.lane, b.ttl);
            st.a[st.cur] += 1.0;
        }
        // Bulkhead: a call takes a permit for all its attempts and copies.
        if lane.bulk_base != NONE && !slot.permit && slot.caller_instance != NONE {
            let k = (lane.bulk_base + self.p.inst_ordinal[slot.caller_instance as usize]) as usize;
            if self.bulk[k] >= lane.max_concurrent {
                self.slots.get_mut(s).cause = REJECTED;
                self.lane_done(s, false);
                return;
            }
            self.bulk[k] += 1;
            self.slots.get_mut(s).permit = true;
        }
        let denied = self
            .breaker_of(&slot)
            .is_some_and(|k| !self.breaker_permits(k));
        if denied {
            if self.in_window() {
                self.stats.short_circuits += 1;
            }
            self.slots.get_mut(s).cause = BREAKER;
            self.attempt_failed(s);
            return;
        }
        let instance = self.pick(service);
        if instance == NONE {
            // No healthy upstream.
            self.slots.get_mut(s).cause = REJECTED;
            self.attempt_failed(s);
            return;
        }
        if line != NONE {
            let deadline = self.now + timeout;
            self.lines[line as usize].push_back((deadline, s, gen_));
            if !self.line_armed[line as usize] {
                self.line_armed[line as usize] = true;
                self.schedule(deadline, Kind::TimeoutLine, line, 0);
            }
        }
        let (extra, lost) = if self.w.active_rules.is_empty() {
            (0.0, false)
        } else {
            self.net_rules(&slot, instance)
        };
        if lost {
            self.lost(s, gen_);
            return;
        }
        self.inst[instance as usize].outstanding += 1;
        let v = self.visits.alloc(Visit {
            endpoint: target,
            instance,
            slot: s,
            gen_,
            caller_zone: slot.caller_zone,
            step: 0,
            pending: 0,
            failed: false,
            inject: false,
            cause: FAILED,
            state: State::Transit,
            t_arrive: 0.0,
            t_start: -1.0,
            hold: 0.0,
            extra,
        });
        let d = self
            .p
            .latency(slot.caller_zone, self.w.inst_zone[instance as usize])
            + extra;
        if d > 0.0 {
            self.schedule(self.now + d, Kind::Reach, v, 0);
        } else {
            self.reach(v);
        }
    }

    /// An attempt that will never be answered: the caller's timeout fires, or, without one,
    /// it gives up after [`LOST_GIVE_UP`].
    fn lost(&mut self, s: u32, gen_: u32) {
        let lane = &self.p.lanes[self.slots.get(s).lane as usize];
        if lane.timeout_line == NONE {
            self.schedule(self.now + LOST_GIVE_UP, Kind::Lost, s, gen_);
        }
    }

    /// A visit arrives at its instance: serve, queue or reject it.
    fn reach(&mut self, v: u32) {
        let i = self.visits.get(v).instance as usize;
        if self.w.status[i] == Status::Down || self.w.status[i] == Status::Absent {
            // Dead: a vanished machine never answers; a dead process refuses the connection.
            let vis = *self.visits.get(v);
            self.inst[i].outstanding = self.inst[i].outstanding.saturating_sub(1);
            self.visits.get_mut(v).state = State::Free;
            self.visits.release(v);
            if self.w.vanished[i] {
                self.lost(vis.slot, vis.gen_);
            } else {
                let d = self.p.latency(self.w.inst_zone[i], vis.caller_zone) + vis.extra;
                self.respond(vis.slot, vis.gen_, false, d, FAILED);
            }
            return;
        }
        self.visits.get_mut(v).t_arrive = self.now;
        let inst = &self.inst[i];
        if inst.busy < self.p.inst_workers[i] {
            self.start(v);
        } else if inst.queue.len() as u32 >= self.p.inst_queue_limit[i] {
            self.reject(v);
        } else {
            self.visits.get_mut(v).state = State::Queued;
            self.inst[i].queue.push_back(v);
        }
    }

    fn start(&mut self, v: u32) {
        let vis = self.visits.get_mut(v);
        vis.state = State::Cpu;
        vis.t_start = self.now;
        let (i, e) = (vis.instance as usize, vis.endpoint as usize);
        self.inst[i].busy += 1;
        self.w
            .busy_change(self.p.inst_service[i] as usize, self.now, 1.0);
        let mut work = self.p.ep_dist[e].sample(&mut self.rng);
        if self.w.dynamic {
            let ver = self.w.version_of(self.plan, i);
            let slow = self.w.slow[i];
            let hold = work * slow * (ver.latency - ver.cpu).max(0.0);
            work *= slow * ver.cpu;
            let p_err = 1.0 - (1.0 - self.w.ep_err[e]) * (1.0 - ver.error_rate);
            let inject = p_err > 0.0 && self.rng.uniform() < p_err;
            let vis = self.visits.get_mut(v);
            vis.hold = hold;
            vis.inject = inject;
        }
        let ps = self.w.inst_ps[i];
        if ps == NONE {
            self.schedule(self.now + work, Kind::CpuDone, v, 0);
        } else {
            self.ps_add(ps as usize, v, work);
        }
    }

    fn cpu_done(&mut self, v: u32) {
        let vis = self.visits.get_mut(v);
        if vis.state == State::Dead {
            vis.state = State::Free;
            self.visits.release(v);
            return;
        }
        let i = vis.instance as usize;
        let t_start = vis.t_start;
        let hold = vis.hold;
        let host = self.w.inst_host[i];
        if host != NONE && self.w.inst_ps[i] == NONE {
            self.stats.host_busy[host as usize] += self.overlap(t_start);
        }
        if hold > 0.0 {
            self.visits.get_mut(v).state = State::Hold;
            self.schedule(self.now + hold, Kind::Hold, v, 0);
            return;
        }
        self.after_work(v);
    }

    fn hold_done(&mut self, v: u32) {
        if self.visits.get(v).state == State::Dead {
            self.visits.get_mut(v).state = State::Free;
            self.visits.release(v);
            return;
        }
        self.after_work(v);
    }

    /// The visit's own work is done: fail it (injected error) or run its calls.
    fn after_work(&mut self, v: u32) {
        let vis = self.visits.get_mut(v);
        vis.state = State::Calls;
        vis.step = 0;
        if vis.inject {
            vis.cause = FAILED;
            self.finish(v, false);
            return;
        }
        self.run_steps(v);
    }

    /// Launches the calls of the visit's current step, moving on past steps whose calls were all
    /// skipped (probability) and finishing the visit after the last step.
    fn run_steps(&mut self, v: u32) {
        loop {
            let vis = *self.visits.get(v);
            let (s0, s1) = self.p.ep_steps[vis.endpoint as usize];
            let step = s0 + vis.step;
            if step >= s1 {
                self.finish(v, true);
                return;
            }
            // The guard keeps `pending` above zero while launching, so that a call failing
            // inline (rejected with no network latency) cannot finish the visit under our feet.
            self.visits.get_mut(v).pending = 1;
            let (l0, l1) = self.p.steps[step as usize];
            let caller_zone = self.w.inst_zone[vis.instance as usize];
            for lane in l0..l1 {
                let spec = &self.p.lanes[lane as usize];
                let (p, count, detached) = (spec.probability, spec.count, spec.is_async);
                if p < 1.0 && self.rng.uniform() >= p {
                    continue;
                }
                let slot = Slot {
                    owner: v,
                    owner_is_request: false,
                    caller_instance: vis.instance,
                    lane,
                    copies_left: count,
                    attempt: 0,
                    caller_zone,
                    cause: FAILED,
                    permit: false,
                };
                if detached {
                    // Fire and forget: every copy at once, nobody waits.
                    for _ in 0..count {
                        let s = self.new_slot(Slot {
                            owner: NONE,
                            copies_left: 1,
                            ..slot
                        });
                        self.issue(s);
                    }
                } else {
                    self.visits.get_mut(v).pending += 1;
                    let s = self.new_slot(slot);
                    self.issue(s);
                }
            }
            let vis = self.visits.get_mut(v);
            vis.pending -= 1;
            if vis.state == State::Dead {
                if vis.pending == 0 {
                    vis.state = State::Free;
                    self.visits.release(v);
                }
                return;
            }
            if vis.pending > 0 {
                return;
            }
            if vis.failed {
                self.finish(v, false);
                return;
            }
            vis.step += 1;
        }
    }

    /// Counts a finished or rejected visit in the timeline, the SLOs and a canary's analysis.
    fn record_visit(&mut self, i: usize, e: usize, ok: bool, response: f64) {
        let svc = self.p.inst_service[i] as usize;
        if let Some(se) = &mut self.stats.series {
            let b = se.bucket(self.now);
            se.visits[b * se.ns + svc] += 1;
            se.visit_errors[b * se.ns + svc] += u32::from(!ok);
        }
        if !self.slo_by_endpoint[e].is_empty() {
            self.record_slo_endpoint(e, ok, response);
        }
        if self.w.analysing[svc] != NONE {
            self.canary_sample(svc, i, ok, response);
        }
    }

    /// The visit is done (successfully or not): free its worker, serve the next in line and
    /// send the response back.
    fn finish(&mut self, v: u32, ok: bool) {
        let vis = *self.visits.get(v);
        let (i, e) = (vis.instance as usize, vis.endpoint as usize);
        self.stats.visits += 1;
        let stay = self.overlap(vis.t_arrive);
        let busy = self.overlap(vis.t_start);
        let in_window = self.in_window();
        let is = &mut self.stats.instances[i];
        is.in_system_area += stay;
        is.busy_area += busy;
        let es = &mut self.stats.endpoints[e];
        es.in_system_area += stay;
        es.busy_area += busy;
        if in_window {
            self.stats.instances[i].completed += 1;
            let es = &mut self.stats.endpoints[e];
            es.completed += 1;
            es.errors += u64::from(!ok);
            es.response_sum += self.now - vis.t_arrive;
        }
        self.record_visit(i, e, ok, self.now - vis.t_arrive);
        self.visits.get_mut(v).state = State::Free;
        self.visits.release(v);
        let inst = &mut self.inst[i];
        inst.busy -= 1;
        inst.outstanding -= 1;
        self.w
            .busy_change(self.p.inst_service[i] as usize, self.now, -1.0);
        if let Some(next) = self.inst[i].queue.pop_front() {
            self.start(next);
        }
        let cause = if ok { 0 } else { vis.cause };
        self.respond(
            vis.slot,
            vis.gen_,
            ok,
            self.p.latency(self.w.inst_zone[i], vis.caller_zone) + vis.extra,
            cause,
        );
        if self.w.status[i] == Status::Draining && self.inst[i].outstanding == 0 {
            self.drained(i);
        }
    }

    fn reject(&mut self, v: u32) {
        let vis = *self.visits.get(v);
        let (i, e) = (vis.instance as usize, vis.endpoint as usize);
        if self.in_window() {
            self.stats.instances[i].rejected += 1;
            self.stats.endpoints[e].errors += 1;
            self.stats.endpoints[e].rejected += 1;
        }
        self.record_visit(i, e, false, 0.0);
        self.visits.get_mut(v).state = State::Free;
        self.visits.release(v);
        self.inst[i].outstanding -= 1;
        self.respond(
            vis.slot,
            vis.gen_,
            false,
            self.p.latency(self.w.inst_zone[i], vis.caller_zone) + vis.extra,
            REJECTED,
        );
        if self.w.status[i] == Status::Draining && self.inst[i].outstanding == 0 {
            self.drained(i);
        }
    }

    fn respond(&mut self, s: u32, gen_: u32, ok: bool, delay: f64, cause: u8) {
        if self.slot_gen[s as usize] != gen_ {
            return; // The caller gave up on this attempt.
        }
        if !ok {
            // Safe: while the generation matches, this attempt is the slot's only one.
            self.slots.get_mut(s).cause = cause;
        }
        // Handled inline when there is no latency, unless responses are already nested deep
        // (a long call chain completing at once): then through the queue, to bound the stack.
        if delay > 0.0 || self.depth >= MAX_INLINE_DEPTH {
            let kind = if ok {
                Kind::ResponseOk
            } else {
                Kind::ResponseErr
            };
            self.schedule(self.now + delay, kind, s, gen_);
        } else {
            self.depth += 1;
            self.on_response(s, gen_, ok);
            self.depth -= 1;
        }
    }

    /// Whether the visit waiting on slot `s` died with its instance.
    fn owner_dead(&self, slot: &Slot) -> bool {
        !slot.owner_is_request
            && slot.owner != NONE
            && self.visits.get(slot.owner).state == State::Dead
    }

    fn on_response(&mut self, s: u32, gen_: u32, ok: bool) {
        if self.slot_gen[s as usize] != gen_ {
            return;
        }
        self.slot_gen[s as usize] = gen_.wrapping_add(1);
        let slot = *self.slots.get(s);
        if let Some(k) = self.breaker_of(&slot) {
            self.breaker_record(k, ok);
        }
        if !ok {
            self.attempt_failed(s);
            return;
        }
        let dead = self.owner_dead(&slot);
        let slot = self.slots.get_mut(s);
        slot.copies_left -= 1;
        if slot.copies_left > 0 && !dead {
            slot.attempt = 0;
            self.issue(s);
        } else {
            self.lane_done(s, !dead);
        }
    }

    /// Fires the due timeouts of a line (those whose attempt is still awaited) and re-arms it.
    fn timeout_line(&mut self, line: usize) {
        self.line_armed[line] = false;
        self.stats.events -= 1; // Only live timeouts count as events of the model.
        while let Some(&(deadline, s, gen_)) = self.lines[line].front() {
            if deadline > self.now {
                break;
            }
            self.lines[line].pop_front();
            if self.slot_gen[s as usize] == gen_ {
                self.stats.events += 1;
                self.on_timeout(s, gen_);
            }
        }
        let head = self.lines[line].front().map(|h| h.0);
        if let (Some(deadline), false) = (head, self.line_armed[line]) {
            self.line_armed[line] = true;
            self.schedule(deadline, Kind::TimeoutLine, line as u32, 0);
        }
    }

    fn on_timeout(&mut self, s: u32, gen_: u32) {
        self.slot_gen[s as usize] = gen_.wrapping_add(1);
        if self.in_window() {
            self.stats.timeouts += 1;
        }
        let slot = *self.slots.get(s);
        if let Some(k) = self.breaker_of(&slot) {
            self.breaker_record(k, false);
        }
        self.slots.get_mut(s).cause = TIMEOUT;
        self.attempt_failed(s);
    }

    fn attempt_failed(&mut self, s: u32) {
        let slot = *self.slots.get(s);
        if self.owner_dead(&slot) {
            self.lane_done(s, false);
            return;
        }
        let retry = self.p.lanes[slot.lane as usize].retry;
        let within_budget = |eng: &mut Self, r: &crate::net::Retry| match r.budget {
            None => true,
            Some(b) => {
                let st = eng.budget(slot.lane, b.ttl);
                let (firsts, retries) = st.sums();
                let allowed = (b.min_per_second * b.ttl).max(b.percent * firsts);
                if retries + 1.0 <= allowed + 1e-9 {
                    st.b[st.cur] += 1.0;
                    true
                } else {
                    false
                }
            }
        };
        match retry {
            Some(r) if slot.attempt < r.max && within_budget(self, &r) => {
                let attempt = slot.attempt + 1;
                self.slots.get_mut(s).attempt = attempt;
                if self.in_window() {
                    self.stats.retries += 1;
                }
                let exp = r
                    .multiplier
                    .powi(attempt.saturating_sub(1).min(1023) as i32);
                let wait = (r.backoff * exp).min(r.max_backoff);
                let wait = match r.jitter {
                    Jitter::None => wait,
                    Jitter::Full => wait * self.rng.uniform(),
                    Jitter::Equal => wait / 2.0 + wait / 2.0 * self.rng.uniform(),
                };
                let g = self.slot_gen[s as usize];
                if wait > 0.0 || self.depth >= MAX_INLINE_DEPTH {
                    self.schedule(self.now + wait, Kind::Retry, s, g);
                } else {
                    self.depth += 1;
                    self.issue(s);
                    self.depth -= 1;
                }
            }
            _ => self.lane_done(s, false),
        }
    }

    /// A lane is over (all copies returned, or it failed for good): tell its owner.
    fn lane_done(&mut self, s: u32, ok: bool) {
        let slot = *self.slots.get(s);
        self.slot_gen[s as usize] = self.slot_gen[s as usize].wrapping_add(1);
        self.slots.release(s);
        if slot.permit {
            let lane = &self.p.lanes[slot.lane as usize];
            let k = (lane.bulk_base + self.p.inst_ordinal[slot.caller_instance as usize]) as usize;
            self.bulk[k] = self.bulk[k].saturating_sub(1);
        }
        if slot.owner == NONE {
            return; // An asynchronous call: nobody waits for it.
        }
        if slot.owner_is_request {
            self.flow_step_done(slot.owner, ok, slot.cause);
            return;
        }
        let v = slot.owner;
        let optional = self.p.lanes[slot.lane as usize].optional;
        let vis = self.visits.get_mut(v);
        if vis.state == State::Dead {
            vis.pending -= 1;
            if vis.pending == 0 {
                vis.state = State::Free;
                self.visits.release(v);
            }
            return;
        }
        if !ok && !optional && !vis.failed {
            vis.failed = true;
            vis.cause = slot.cause;
        }
        vis.pending -= 1;
        if vis.pending == 0 {
            if vis.failed {
                self.finish(v, false);
            } else {
                vis.step += 1;
                self.run_steps(v);
            }
        }
    }

    // ---- circuit breakers and retry budgets ------------------------------------------------

    /// The breaker state guarding `slot`'s call from its calling instance, if any.
    #[inline]
    fn breaker_of(&self, slot: &Slot) -> Option<usize> {
        let base = self.p.lanes[slot.lane as usize].breaker_base;
        if base == NONE || slot.caller_instance == NONE {
            return None;
        }
        Some((base + self.p.inst_ordinal[slot.caller_instance as usize]) as usize)
    }

    /// The parameters of breaker state `k`.
    #[inline]
    fn breaker_params(&self, k: usize) -> Option<crate::net::Breaker> {
        self.p.lanes[self.p.breaker_lane[k] as usize].breaker
    }

    /// Whether breaker `k` lets an attempt through now (counting half-open probes).
    fn breaker_permits(&mut self, k: usize) -> bool {
        let Some(params) = self.breaker_params(k) else {
            return true;
        };
        let now = self.now;
        let st = &mut self.breakers[k];
        if st.mode == BreakerMode::Open && now >= st.open_until {
            st.mode = BreakerMode::HalfOpen;
            st.probes_out = 0;
            st.probes_ok = 0;
        }
        match st.mode {
            BreakerMode::Closed => true,
            BreakerMode::Open => false,
            BreakerMode::HalfOpen if st.probes_out < params.half_open_probes => {
                st.probes_out += 1;
                true
            }
            BreakerMode::HalfOpen => false,
        }
    }

    /// Feeds an attempt's outcome to breaker `k`.
    fn breaker_record(&mut self, k: usize, ok: bool) {
        let Some(params) = self.breaker_params(k) else {
            return;
        };
        let now = self.now;
        let caller_svc = self.p.lanes[self.p.breaker_lane[k] as usize].caller_service;
        let st = &mut self.breakers[k];
        let mut delta = 0i32;
        match st.mode {
            BreakerMode::Closed => {
                st.window.advance(now, params.window / SLICES as f64);
                let cur = st.window.cur;
                st.window.a[cur] += 1.0;
                if ok {
                    st.consecutive = 0;
                } else {
                    st.consecutive += 1;
                    st.window.b[cur] += 1.0;
                }
                let (calls, failures) = st.window.sums();
                let by_count = params
                    .consecutive_failures
                    .is_some_and(|n| st.consecutive >= n);
                let by_rate = params
                    .error_rate
                    .is_some_and(|r| calls >= f64::from(params.min_calls) && failures >= r * calls);
                if by_count || by_rate {
                    st.mode = BreakerMode::Open;
                    st.open_until = now + params.open_for;
                    delta = 1;
                }
            }
            BreakerMode::HalfOpen if !ok => {
                st.mode = BreakerMode::Open;
                st.open_until = now + params.open_for;
            }
            BreakerMode::HalfOpen => {
                st.probes_ok += 1;
                if st.probes_ok >= params.half_open_probes {
                    *st = BreakerState {
                        window: Sliding {
                            since: now,
                            ..Sliding::default()
                        },
                        ..BreakerState::default()
                    };
                    delta = -1;
                }
            }
            // A late outcome of an attempt let through before the breaker opened.
            BreakerMode::Open => {}
        }
        if delta != 0 && caller_svc != NONE {
            let c = &mut self.w.breakers_open[caller_svc as usize];
            *c = c.saturating_add_signed(delta);
        }
    }

    fn budget(&mut self, lane: u32, ttl: f64) -> &mut BudgetState {
        let now = self.now;
        let b = &mut self.budgets[lane as usize];
        b.advance(now, ttl / SLICES as f64);
        b
    }

    // ---- processor sharing -------------------------------------------------------------------

    fn ps_advance(&mut self, ps: usize) {
        let now = self.now;
        let warmup = self.warmup;
        let h = &mut self.ps[ps];
        let dt = now - h.t_last;
        if dt > 0.0 {
            h.vclock += dt * h.rate();
            let busy_cores = f64::from(h.active).min(h.cores);
            let inside = (now - h.t_last.max(warmup)).max(0.0);
            self.stats.host_busy[h.host as usize] += busy_cores * inside;
        }
        h.t_last = now;
    }

    fn ps_reschedule(&mut self, ps: usize) {
        let h = &mut self.ps[ps];
        h.generation = h.generation.wrapping_add(1);
        if let Some(&Reverse((vf, _))) = h.jobs.peek() {
            let dt = ((f64::from_bits(vf) - h.vclock) / h.rate()).max(0.0);
            let (at, g) = (self.now + dt, h.generation);
            self.schedule(at, Kind::HostDone, ps as u32, g);
        }
    }

    fn ps_add(&mut self, ps: usize, v: u32, work: f64) {
        self.ps_advance(ps);
        let h = &mut self.ps[ps];
        let old_rate = h.rate();
        let old_min = h.jobs.peek().map(|r| r.0.0);
        let vf = (h.vclock + work).to_bits();
        h.jobs.push(Reverse((vf, v)));
        h.active += 1;
        if h.rate() != old_rate || old_min.is_none_or(|m| vf < m) {
            self.ps_reschedule(ps);
        }
    }

    fn host_done(&mut self, ps: u32, generation: u32) {
        let ps = ps as usize;
        if self.ps[ps].generation != generation {
            self.stats.events -= 1; // Superseded by a reschedule.
            return;
        }
        self.ps_advance(ps);
        let h = &mut self.ps[ps];
        let Some(Reverse((vf, v))) = h.jobs.pop() else {
            return;
        };
        h.vclock = h.vclock.max(f64::from_bits(vf));
        h.active -= 1;
        self.ps_reschedule(ps);
        self.cpu_done(v);
    }
}
