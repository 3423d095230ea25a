//! The dynamic side of a run (a [`Plan`]): instance lifecycles (absent, pending, starting,
//! ready, draining, down), the routes load balancers pick from, faults (kills, restarts,
//! network rules, gray failures, error injection, core loss), health-check ejection, the
//! controllers that create, place and drain pods (a ReplicaSet per managed service, rolling
//! updates, canaries with Mann-Whitney analysis, blue/green), autoscalers (Kubernetes HPA
//! rules), the timeline ticks and the SLO and canary samples.
//!
//! **Pods and nodes.** A managed service has spare instance slots (added by
//! [`crate::scenario`]); creating a pod takes a free slot and places it on the candidate host
//! with the lowest allocated share of cores that still fits its CPU request (Kubernetes'
//! least-allocated scoring), or leaves it pending. A pod becomes ready after its start-up
//! time. Removing a pod takes it out of load balancing at once and frees its slot and node
//! share when its last visit is done (draining).
//!
//! **Deaths.** A killed process refuses connections (callers fail at once); a killed host or
//! zone vanishes (attempts are never answered, callers wait for their timeout). Either way the
//! instance stays in load balancing until health checks notice, after the service's detection
//! delay; a managed service's controller then replaces it.
//!
//! **Utilization** for autoscalers and the timeline is ∫ busy workers dt / ∫ available
//! workers dt, integrated exactly per service at every change.

use crate::plan::{ActionKind, Objective, Plan, Strategy, Version};
use crate::stats::{Decision, FAILED};

use super::prepared::{NONE, Prepared};
use super::queue::Kind;
use super::{Engine, State};

/// Lifecycle of an instance (pod).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    /// A free slot: no pod.
    Absent,
    /// Created, waiting for a node with room.
    Pending,
    /// Placed, starting up.
    Starting,
    /// Serving.
    Ready,
    /// Out of load balancing, finishing its visits.
    Draining,
    /// Dead (killed).
    Down,
}

/// Canary analysis samples of one deployment: per pool (0 baseline, 1 canary).
#[derive(Debug, Clone, Default)]
pub(super) struct Samples {
    from: f64,
    latency: [Vec<f64>; 2],
    n: [u64; 2],
    errors: [u64; 2],
}

/// Samples kept per side for the analysis.
const MAX_SAMPLES: usize = 50_000;

/// The dynamic state.
#[derive(Debug, Default)]
pub(super) struct World {
    /// The plan changes anything at run time (versions, slowness, errors may apply).
    pub dynamic: bool,
    pub status: Vec<Status>,
    /// Lifecycle generation, bumped at every status change (stale events are ignored).
    pub igen: Vec<u32>,
    /// Died with its machine: attempts are never answered.
    pub vanished: Vec<bool>,
    /// Dead and noticed by health checks.
    pub ejected: Vec<bool>,
    pub version: Vec<u32>,
    /// 0 stable, 1 canary / green.
    pub pool: Vec<u8>,
    pub slow: Vec<f64>,
    pub created: Vec<f64>,
    /// Since when the instance provides capacity (ready or draining); NaN when it does not.
    pub up_since: Vec<f64>,
    pub inst_host: Vec<u32>,
    pub inst_zone: Vec<u32>,
    pub inst_ps: Vec<u32>,
    /// Per service, per pool: routable instances.
    pub routes: Vec<[Vec<u32>; 2]>,
    pub rr: Vec<[u32; 2]>,
    pub canary_weight: Vec<f64>,
    pub ep_err: Vec<f64>,
    pub host_up: Vec<bool>,
    pub host_cores: Vec<f64>,
    pub host_used: Vec<f64>,
    pub active_rules: Vec<u32>,
    /// Per action: instances and hosts it killed.
    pub killed: Vec<Vec<u32>>,
    pub killed_hosts: Vec<Vec<u32>>,
    // Per service: exact integrals of busy and available workers.
    busy_n: Vec<f64>,
    cap_n: Vec<f64>,
    area_t: Vec<f64>,
    busy_area: Vec<f64>,
    cap_area: Vec<f64>,
    warm: Option<(Vec<f64>, Vec<f64>)>,
    tick_busy: Vec<f64>,
    tick_cap: Vec<f64>,
    ticked: usize,
    pub breakers_open: Vec<u32>,
    // Managed services.
    managed_of: Vec<u32>,
    desired: Vec<u32>,
    cur_version: Vec<u32>,
    rollout: Vec<u32>,
    zone_rr: Vec<u32>,
    hpa_hist: Vec<Vec<(f64, u32)>>,
    hpa_busy: Vec<f64>,
    hpa_cap: Vec<f64>,
    /// Per service: the deployment whose canary is being analysed, or NONE.
    pub analysing: Vec<u32>,
    samples: Vec<Samples>,
}

impl World {
    pub fn new(p: &Prepared, plan: &Plan) -> World {
        let ni = p.inst_service.len();
        let ns = p.svc_instances.len();
        let nh = p.hosts;
        let mut managed_of = vec![NONE; ns];
        for (m, mg) in plan.managed.iter().enumerate() {
            managed_of[mg.service as usize] = m as u32;
        }
        World {
            dynamic: !plan.actions.is_empty() || !plan.managed.is_empty(),
            status: vec![Status::Ready; ni],
            igen: vec![0; ni],
            vanished: vec![false; ni],
            ejected: vec![false; ni],
            version: vec![0; ni],
            pool: vec![0; ni],
            slow: vec![1.0; ni],
            created: vec![0.0; ni],
            up_since: vec![0.0; ni],
            inst_host: p.inst_host.clone(),
            inst_zone: p.inst_zone.clone(),
            inst_ps: p.inst_ps.clone(),
            routes: vec![[Vec::new(), Vec::new()]; ns],
            rr: vec![[0, 0]; ns],
            canary_weight: vec![0.0; ns],
            ep_err: vec![0.0; p.ep_service.len()],
            host_up: vec![true; nh],
            host_cores: vec![0.0; nh],
            host_used: vec![0.0; nh],
            active_rules: Vec::new(),
            killed: vec![Vec::new(); plan.actions.len()],
            killed_hosts: vec![Vec::new(); plan.actions.len()],
            busy_n: vec![0.0; ns],
            cap_n: vec![0.0; ns],
            area_t: vec![0.0; ns],
            busy_area: vec![0.0; ns],
            cap_area: vec![0.0; ns],
            warm: None,
            tick_busy: vec![0.0; ns],
            tick_cap: vec![0.0; ns],
            ticked: 0,
            breakers_open: vec![0; ns],
            managed_of,
            desired: plan.managed.iter().map(|m| m.desired).collect(),
            cur_version: vec![0; ns],
            rollout: vec![NONE; plan.managed.len()],
            zone_rr: vec![0; plan.managed.len()],
            hpa_hist: vec![Vec::new(); plan.autoscalers.len()],
            hpa_busy: vec![0.0; plan.autoscalers.len()],
            hpa_cap: vec![0.0; plan.autoscalers.len()],
            analysing: vec![NONE; ns],
            samples: vec![Samples::default(); plan.deployments.len()],
        }
    }

    /// Integrates service `svc`'s busy and available workers up to `now`.
    #[inline]
    fn touch(&mut self, svc: usize, now: f64) {
        let dt = now - self.area_t[svc];
        if dt > 0.0 {
            self.busy_area[svc] += self.busy_n[svc] * dt;
            self.cap_area[svc] += self.cap_n[svc] * dt;
            self.area_t[svc] = now;
        }
    }

    /// `delta` workers of `svc` became busy (or free, when negative).
    #[inline]
    pub fn busy_change(&mut self, svc: usize, now: f64, delta: f64) {
        self.touch(svc, now);
        self.busy_n[svc] += delta;
    }

    /// The version profile of instance `i`.
    #[inline]
    pub fn version_of(&self, plan: &Plan, i: usize) -> Version {
        plan.versions
            .get(self.version[i] as usize)
            .copied()
            .unwrap_or_default()
    }
}

fn provides_capacity(s: Status) -> bool {
    matches!(s, Status::Ready | Status::Draining)
}

use crate::analysis::mann_whitney_greater;

impl Engine<'_> {
    // ---- set-up and close ----------------------------------------------------------------

    pub(super) fn init_world(&mut self) {
        let plan = self.plan;
        for h in 0..self.p.hosts {
            self.w.host_cores[h] = self
                .p
                .ps_hosts
                .get(self.p.host_ps[h] as usize)
                .map_or(f64::INFINITY, |ps| ps.cores);
        }
        if let Some(cores) = plan.cpu_request.get(..self.p.inst_service.len()) {
            for (i, &c) in cores.iter().enumerate() {
                let h = self.w.inst_host[i];
                if h != NONE {
                    self.w.host_used[h as usize] += c;
                }
            }
        }
        for &i in &plan.absent {
            let i = i as usize;
            self.w.status[i] = Status::Absent;
            self.w.up_since[i] = f64::NAN;
            let h = self.w.inst_host[i];
            if h != NONE {
                self.w.host_used[h as usize] -= self.cpu_of(i);
                self.w.inst_host[i] = NONE;
                self.w.inst_ps[i] = NONE;
            }
        }
        for (i, &svc) in self.p.inst_service.iter().enumerate() {
            if provides_capacity(self.w.status[i]) {
                self.w.cap_n[svc as usize] += f64::from(self.p.inst_workers[i]);
            }
        }
        for svc in 0..self.p.svc_instances.len() {
            self.rebuild_routes(svc);
        }
        for (k, a) in plan.actions.iter().enumerate() {
            self.schedule(a.at, Kind::Action, k as u32, 0);
        }
        for (k, a) in plan.autoscalers.iter().enumerate() {
            self.schedule(a.sync_period, Kind::HpaSync, k as u32, 0);
        }
        if let Some(se) = &self.stats.series {
            let (w, n) = (se.width, se.n);
            for k in 0..n {
                let t = (k + 1) as f64 * w;
                if t <= self.end {
                    self.schedule(t, Kind::Tick, k as u32, 0);
                }
            }
        }
        if self.warmup > 0.0 {
            self.schedule(self.warmup, Kind::Warmup, 0, 0);
        }
    }

    fn cpu_of(&self, i: usize) -> f64 {
        self.plan.cpu_request.get(i).copied().unwrap_or(0.0)
    }

    pub(super) fn warmup_snapshot(&mut self) {
        for svc in 0..self.w.busy_area.len() {
            self.w.touch(svc, self.now);
        }
        self.w.warm = Some((self.w.busy_area.clone(), self.w.cap_area.clone()));
    }

    /// End of the run: last timeline bucket, window integrals, instance capacity.
    pub(super) fn close_world(&mut self) {
        let now = self.end;
        for svc in 0..self.w.busy_area.len() {
            self.w.touch(svc, now);
        }
        if let Some(se) = &self.stats.series
            && self.w.ticked < se.n
        {
            let k = self.w.ticked;
            self.tick(k);
        }
        let (wb, wc) = self.w.warm.clone().unwrap_or_else(|| {
            let z = vec![0.0; self.w.busy_area.len()];
            (z.clone(), z)
        });
        for svc in 0..self.w.busy_area.len() {
            self.stats.svc_busy[svc] = self.w.busy_area[svc] - wb[svc];
            self.stats.svc_cap[svc] = self.w.cap_area[svc] - wc[svc];
        }
        for i in 0..self.w.status.len() {
            if provides_capacity(self.w.status[i]) {
                let since = self.w.up_since[i];
                self.stats.instances[i].cap_area +=
                    (now - since.max(self.warmup)).max(0.0) * f64::from(self.p.inst_workers[i]);
            }
        }
    }

    // ---- timeline --------------------------------------------------------------------------

    pub(super) fn tick(&mut self, k: usize) {
        let now = self.now.min(self.end);
        let ns = self.w.busy_area.len();
        for svc in 0..ns {
            self.w.touch(svc, now);
        }
        let pending: Vec<u32> = (0..ns)
            .map(|svc| {
                if self.w.managed_of[svc] == NONE {
                    0
                } else {
                    self.p.svc_instances[svc]
                        .iter()
                        .filter(|&&i| self.w.status[i as usize] == Status::Pending)
                        .count() as u32
                }
            })
            .collect();
        let Some(se) = &mut self.stats.series else {
            return;
        };
        if k >= se.n {
            return;
        }
        for (svc, &waiting) in pending.iter().enumerate() {
            let j = k * ns + svc;
            se.busy[j] = self.w.busy_area[svc] - self.w.tick_busy[svc];
            se.cap[j] = self.w.cap_area[svc] - self.w.tick_cap[svc];
            se.pending[j] = waiting;
            se.breakers[j] = self.w.breakers_open[svc];
        }
        self.w.tick_busy.clone_from(&self.w.busy_area);
        self.w.tick_cap.clone_from(&self.w.cap_area);
        self.w.ticked = k + 1;
    }

    // ---- SLOs and canary samples -----------------------------------------------------------

    fn record_slo(&mut self, k: u32, ok: bool, latency: f64) {
        let slo = &self.plan.slos[k as usize];
        let (judged, bad) = match slo.objective {
            Objective::Latency { threshold, .. } => (ok, ok && latency > threshold),
            Objective::Availability(_) => (true, !ok),
        };
        if let Some(se) = &mut self.stats.series
            && judged
        {
            let b = se.bucket(self.now);
            se.slo_n[b * se.nslo + k as usize] += 1;
            se.slo_bad[b * se.nslo + k as usize] += u32::from(bad);
        }
        if self.in_window() {
            let rec = &mut self.stats.slos[k as usize];
            if ok {
                rec.hist.saturating_record((latency * 1e6).round() as u64);
            } else {
                rec.errors += 1;
            }
        }
    }

    pub(super) fn record_slo_workload(&mut self, w: usize, ok: bool, latency: f64) {
        for j in 0..self.slo_by_workload[w].len() {
            let k = self.slo_by_workload[w][j];
            self.record_slo(k, ok, latency);
        }
    }

    pub(super) fn record_slo_endpoint(&mut self, e: usize, ok: bool, latency: f64) {
        for j in 0..self.slo_by_endpoint[e].len() {
            let k = self.slo_by_endpoint[e][j];
            self.record_slo(k, ok, latency);
        }
    }

    pub(super) fn canary_sample(&mut self, svc: usize, i: usize, ok: bool, response: f64) {
        let d = self.w.analysing[svc] as usize;
        let pool = usize::from(self.w.pool[i].min(1));
        let s = &mut self.w.samples[d];
        if self.now < s.from {
            return;
        }
        s.n[pool] += 1;
        if ok {
            if s.latency[pool].len() < MAX_SAMPLES {
                s.latency[pool].push(response);
            }
        } else {
            s.errors[pool] += 1;
        }
    }

    // ---- routes and lifecycle ----------------------------------------------------------------

    fn rebuild_routes(&mut self, svc: usize) {
        let mut r: [Vec<u32>; 2] = [Vec::new(), Vec::new()];
        for &i in &self.p.svc_instances[svc] {
            let iu = i as usize;
            let routable = match self.w.status[iu] {
                Status::Ready => true,
                Status::Down => !self.w.ejected[iu],
                _ => false,
            };
            if routable && self.w.pool[iu] <= 1 {
                r[usize::from(self.w.pool[iu])].push(i);
            }
        }
        self.w.routes[svc] = r;
    }

    fn set_status(&mut self, i: usize, new: Status) {
        let old = self.w.status[i];
        if old == new {
            return;
        }
        let svc = self.p.inst_service[i] as usize;
        self.w.touch(svc, self.now);
        let workers = f64::from(self.p.inst_workers[i]);
        match (provides_capacity(old), provides_capacity(new)) {
            (true, false) => {
                self.w.cap_n[svc] -= workers;
                let since = self.w.up_since[i];
                self.stats.instances[i].cap_area += self.overlap(since) * workers;
                self.w.up_since[i] = f64::NAN;
            }
            (false, true) => {
                self.w.cap_n[svc] += workers;
                self.w.up_since[i] = self.now;
            }
            _ => {}
        }
        if new == Status::Absent {
            let h = self.w.inst_host[i];
            if h != NONE {
                self.w.host_used[h as usize] -= self.cpu_of(i);
                self.w.inst_host[i] = NONE;
                self.w.inst_ps[i] = NONE;
            }
        }
        self.w.status[i] = new;
        self.w.igen[i] = self.w.igen[i].wrapping_add(1);
        self.rebuild_routes(svc);
    }

    /// Kills instance `i` (its process, or with its machine when `vanish`). Returns whether
    /// it was alive.
    fn kill_instance(&mut self, i: usize, vanish: bool) -> bool {
        match self.w.status[i] {
            Status::Absent | Status::Down => return false,
            Status::Pending if vanish => return false,
            _ => {}
        }
        self.w.vanished[i] = vanish;
        self.w.ejected[i] = false;
        let victims: Vec<u32> = self
            .visits
            .all()
            .iter()
            .enumerate()
            .filter(|(_, v)| {
                v.instance as usize == i
                    && matches!(
                        v.state,
                        State::Queued | State::Cpu | State::Hold | State::Calls
                    )
            })
            .map(|(k, _)| k as u32)
            .collect();
        self.set_status(i, Status::Down);
        let ps = self.w.inst_ps[i];
        if ps != NONE {
            let ps = ps as usize;
            self.ps_advance(ps);
            let visits = &self.visits;
            let h = &mut self.ps[ps];
            h.jobs
                .retain(|std::cmp::Reverse((_, v))| visits.get(*v).instance as usize != i);
            h.active = h.jobs.len() as u32;
            self.ps_reschedule(ps);
        }
        let busy = self.inst[i].busy;
        let svc = self.p.inst_service[i] as usize;
        self.w.busy_change(svc, self.now, -f64::from(busy));
        let gone = busy + self.inst[i].queue.len() as u32;
        self.inst[i].busy = 0;
        self.inst[i].queue.clear();
        self.inst[i].outstanding = self.inst[i].outstanding.saturating_sub(gone);
        for v in victims {
            let vis = *self.visits.get(v);
            let (stay, busy_t) = (self.overlap(vis.t_arrive), self.overlap(vis.t_start));
            let ep = vis.endpoint as usize;
            self.stats.instances[i].in_system_area += stay;
            self.stats.endpoints[ep].in_system_area += stay;
            if vis.state != State::Queued {
                self.stats.instances[i].busy_area += busy_t;
                self.stats.endpoints[ep].busy_area += busy_t;
            }
            let on_ps = vis.state == State::Cpu && ps != NONE;
            let free_now = vis.state == State::Queued || on_ps;
            if vis.state == State::Cpu && ps == NONE && self.w.inst_host[i] != NONE {
                let host = self.w.inst_host[i] as usize;
                self.stats.host_busy[host] += busy_t;
            }
            let vm = self.visits.get_mut(v);
            if free_now {
                vm.state = State::Free;
                self.visits.release(v);
            } else {
                vm.state = State::Dead;
            }
            if vanish {
                self.lost(vis.slot, vis.gen_);
            } else {
                let d = self.p.latency(self.w.inst_zone[i], vis.caller_zone) + vis.extra;
                self.respond(vis.slot, vis.gen_, false, d, FAILED);
            }
        }
        let delay = self
            .plan
            .detection
            .get(svc)
            .copied()
            .unwrap_or(crate::plan::DEFAULT_DETECTION);
        let g = self.w.igen[i];
        self.schedule(self.now + delay, Kind::Detect, i as u32, g);
        true
    }

    pub(super) fn detect(&mut self, i: u32, g: u32) {
        let iu = i as usize;
        if self.w.igen[iu] != g || self.w.status[iu] != Status::Down {
            self.stats.events -= 1;
            return;
        }
        self.w.ejected[iu] = true;
        let svc = self.p.inst_service[iu] as usize;
        self.rebuild_routes(svc);
        let m = self.w.managed_of[svc];
        if m != NONE {
            // The controller replaces the dead pod.
            self.set_status(iu, Status::Absent);
            self.reconcile(m as usize);
        }
    }

    pub(super) fn pod_ready(&mut self, i: u32, g: u32) {
        let iu = i as usize;
        if self.w.igen[iu] != g || self.w.status[iu] != Status::Starting {
            self.stats.events -= 1;
            return;
        }
        self.set_status(iu, Status::Ready);
        let svc = self.p.inst_service[iu] as usize;
        let m = self.w.managed_of[svc];
        if m != NONE {
            self.blue_green_check(m as usize);
            self.reconcile(m as usize);
        }
    }

    /// A draining instance has no visit left: its slot and node share are free.
    pub(super) fn drained(&mut self, i: usize) {
        self.set_status(i, Status::Absent);
        let m = self.w.managed_of[self.p.inst_service[i] as usize];
        if m != NONE {
            self.reconcile(m as usize);
        } else {
            self.reconcile_all();
        }
    }

    fn reconcile_all(&mut self) {
        for m in 0..self.plan.managed.len() {
            self.reconcile(m);
        }
    }

    // ---- network rules -------------------------------------------------------------------------

    /// Added one-way latency and whether the attempt from `slot` to `instance` is lost.
    pub(super) fn net_rules(&mut self, slot: &super::Slot, instance: u32) -> (f64, bool) {
        use crate::plan::Side;
        let caller_svc = if slot.caller_instance == NONE {
            NONE
        } else {
            self.p.inst_service[slot.caller_instance as usize]
        };
        let (cz, cs) = (slot.caller_zone, caller_svc);
        let (tz, ts) = (
            self.w.inst_zone[instance as usize],
            self.p.inst_service[instance as usize],
        );
        let m = |side: Side, z: u32, s: u32| match side {
            Side::Zone(x) => z == x,
            Side::Service(x) => s == x,
        };
        let mut extra = 0.0;
        let mut pass = 1.0;
        for &r in &self.w.active_rules {
            let rule = &self.plan.net_rules[r as usize];
            if (m(rule.a, cz, cs) && m(rule.b, tz, ts)) || (m(rule.b, cz, cs) && m(rule.a, tz, ts))
            {
                extra += rule.latency;
                pass *= 1.0 - rule.loss;
            }
        }
        let lost = pass < 1.0 && self.rng.uniform() >= pass;
        (extra, lost)
    }

    // ---- actions ---------------------------------------------------------------------------------

    pub(super) fn action(&mut self, k: usize) {
        let a = &self.plan.actions[k];
        match &a.kind {
            ActionKind::Kill {
                instances,
                hosts,
                vanish,
            } => {
                let (instances, hosts, vanish) = (instances.clone(), hosts.clone(), vanish.clone());
                let mut killed = Vec::new();
                for i in instances {
                    if self.kill_instance(i as usize, false) {
                        killed.push(i);
                    }
                }
                for &h in &hosts {
                    self.w.host_up[h as usize] = false;
                    for i in 0..self.w.status.len() {
                        if self.w.inst_host[i] == h && self.kill_instance(i, true) {
                            killed.push(i as u32);
                        }
                    }
                }
                for i in vanish {
                    if self.kill_instance(i as usize, true) {
                        killed.push(i);
                    }
                }
                self.w.killed[k] = killed;
                self.w.killed_hosts[k] = hosts;
            }
            ActionKind::Restart { kill } => {
                let kill = *kill as usize;
                for h in self.w.killed_hosts[kill].clone() {
                    self.w.host_up[h as usize] = true;
                }
                for i in self.w.killed[kill].clone() {
                    let iu = i as usize;
                    if self.w.status[iu] == Status::Down {
                        self.w.vanished[iu] = false;
                        self.w.ejected[iu] = false;
                        self.set_status(iu, Status::Ready);
                    }
                }
                self.reconcile_all();
            }
            ActionKind::Net { rule, on } => {
                let (rule, on) = (*rule, *on);
                self.w.active_rules.retain(|&r| r != rule);
                if on {
                    self.w.active_rules.push(rule);
                    self.w.active_rules.sort_unstable();
                }
            }
            ActionKind::Slow { instances, factor } => {
                for &i in instances {
                    self.w.slow[i as usize] = *factor;
                }
            }
            ActionKind::Errors { endpoints, rate } => {
                for &e in endpoints {
                    self.w.ep_err[e as usize] = *rate;
                }
            }
            ActionKind::Cores { host, cores } => {
                let (h, cores) = (*host as usize, *cores);
                self.w.host_cores[h] = cores;
                let ps = self.p.host_ps[h];
                if ps != NONE {
                    self.ps_advance(ps as usize);
                    self.ps[ps as usize].cores = cores;
                    self.ps_reschedule(ps as usize);
                }
                self.reconcile_all();
            }
            ActionKind::Deploy(d) => self.deploy(*d as usize),
        }
    }

    // ---- pods ------------------------------------------------------------------------------------

    /// Creates a pod of managed service `m` in `pool` running `version`; false when no slot
    /// is free.
    fn create_pod(&mut self, m: usize, version: u32, pool: u8) -> bool {
        let svc = self.plan.managed[m].service as usize;
        let Some(&i) = self.p.svc_instances[svc]
            .iter()
            .find(|&&i| self.w.status[i as usize] == Status::Absent)
        else {
            return false;
        };
        let iu = i as usize;
        self.w.version[iu] = version;
        self.w.pool[iu] = pool;
        self.w.slow[iu] = 1.0;
        self.w.created[iu] = self.now;
        self.w.vanished[iu] = false;
        self.w.ejected[iu] = false;
        self.set_status(iu, Status::Pending);
        self.try_place(m, iu);
        true
    }

    /// Places pending pod `i` on a node with room, or leaves it pending.
    fn try_place(&mut self, m: usize, i: usize) {
        let mg = &self.plan.managed[m];
        let req = self.cpu_of(i);
        if mg.candidates.is_empty() {
            if !mg.zones.is_empty() {
                let z = mg.zones[self.w.zone_rr[m] as usize % mg.zones.len()];
                self.w.zone_rr[m] = self.w.zone_rr[m].wrapping_add(1);
                self.w.inst_zone[i] = z;
            }
        } else {
            let svc = mg.service;
            let mut best: Option<(f64, u32, u32)> = None;
            for &h in &mg.candidates {
                let hu = h as usize;
                if !self.w.host_up[hu] {
                    continue;
                }
                let cores = self.w.host_cores[hu];
                let used = self.w.host_used[hu];
                if used + req > cores + 1e-9 {
                    continue;
                }
                let share = if cores.is_finite() && cores > 0.0 {
                    (used + req) / cores
                } else {
                    0.0
                };
                let same = self.p.svc_instances[svc as usize]
                    .iter()
                    .filter(|&&j| {
                        self.w.inst_host[j as usize] == h
                            && self.w.status[j as usize] != Status::Absent
                    })
                    .count() as u32;
                let key = (share, same, h);
                if best.is_none_or(|b| key.0 < b.0 || (key.0 == b.0 && (key.1, key.2) < (b.1, b.2)))
                {
                    best = Some(key);
                }
            }
            let Some((_, _, h)) = best else {
                return; // Stays pending.
            };
            self.w.inst_host[i] = h;
            self.w.inst_ps[i] = self.p.host_ps[h as usize];
            self.w.inst_zone[i] = self.p.host_zone[h as usize];
            self.w.host_used[h as usize] += req;
        }
        self.set_status(i, Status::Starting);
        let startup = self.pod_startup(m, i);
        let g = self.w.igen[i];
        self.schedule(self.now + startup, Kind::PodReady, i as u32, g);
    }

    fn pod_startup(&self, m: usize, i: usize) -> f64 {
        let v = self.w.version[i];
        self.plan
            .deployments
            .iter()
            .find(|d| d.version == v && v != 0 && d.service == self.plan.managed[m].service)
            .map_or(self.plan.managed[m].startup, |d| d.startup)
    }

    /// Removes pod `i`: at once when it serves nothing, else by draining.
    fn remove_pod(&mut self, i: usize) {
        match self.w.status[i] {
            Status::Ready => {
                self.set_status(i, Status::Draining);
                if self.inst[i].outstanding == 0 {
                    self.set_status(i, Status::Absent);
                }
            }
            Status::Pending | Status::Starting | Status::Down => self.set_status(i, Status::Absent),
            Status::Absent | Status::Draining => {}
        }
    }

    /// Pods of managed service `m` in `pool` matching `pred`.
    fn pods(&self, m: usize, pool: u8, pred: impl Fn(usize) -> bool) -> Vec<usize> {
        let svc = self.plan.managed[m].service as usize;
        self.p.svc_instances[svc]
            .iter()
            .map(|&i| i as usize)
            .filter(|&i| self.w.pool[i] == pool && self.w.status[i] != Status::Absent && pred(i))
            .collect()
    }

    /// Alive in the controller's eyes: not removed, not known dead.
    fn alive(&self, i: usize) -> bool {
        match self.w.status[i] {
            Status::Pending | Status::Starting | Status::Ready => true,
            Status::Down => !self.w.ejected[i],
            Status::Absent | Status::Draining => false,
        }
    }

    /// Which pod to remove first: pending, then starting, then dead, then the newest ready.
    fn removal_order(&self, mut pods: Vec<usize>) -> Vec<usize> {
        let rank = |s: Status| match s {
            Status::Pending => 0,
            Status::Starting => 1,
            Status::Down => 2,
            _ => 3,
        };
        pods.sort_by(|&a, &b| {
            rank(self.w.status[a])
                .cmp(&rank(self.w.status[b]))
                .then(self.w.created[b].total_cmp(&self.w.created[a]))
                .then(b.cmp(&a))
        });
        pods
    }

    /// Brings managed service `m` towards what its controller wants.
    pub(super) fn reconcile(&mut self, m: usize) {
        for _ in 0..1_000 {
            // Pending pods first: room may have appeared.
            for i in self
                .pods(m, 0, |_| true)
                .into_iter()
                .chain(self.pods(m, 1, |_| true))
            {
                if self.w.status[i] == Status::Pending {
                    self.try_place(m, i);
                }
            }
            let d = self.w.rollout[m];
            let changed = match self.plan.deployments.get(d as usize).map(|x| x.strategy) {
                Some(Strategy::Rolling {
                    max_surge,
                    max_unavailable,
                }) => self.rolling_step(m, d as usize, max_surge, max_unavailable),
                _ => self.replicas_step(m),
            };
            if !changed {
                return;
            }
        }
    }

    /// ReplicaSet: keep `desired` pods of the current version in the stable pool.
    fn replicas_step(&mut self, m: usize) -> bool {
        let svc = self.plan.managed[m].service as usize;
        let alive = self.pods(m, 0, |i| self.alive(i));
        let want = self.w.desired[m] as usize;
        if alive.len() < want {
            return self.create_pod(m, self.w.cur_version[svc], 0);
        }
        if alive.len() > want
            && let Some(&i) = self.removal_order(alive).first()
        {
            self.remove_pod(i);
            return true;
        }
        false
    }

    /// One step of a Kubernetes rolling update.
    fn rolling_step(&mut self, m: usize, d: usize, surge: u32, unavailable: u32) -> bool {
        let svc = self.plan.managed[m].service as usize;
        let new_v = self.plan.deployments[d].version;
        let n = self.w.desired[m] as usize;
        let new_alive = self.pods(m, 0, |i| self.alive(i) && self.w.version[i] == new_v);
        let old_alive = self.pods(m, 0, |i| self.alive(i) && self.w.version[i] != new_v);
        let ready = |pods: &[usize]| {
            pods.iter()
                .filter(|&&i| self.w.status[i] == Status::Ready)
                .count()
        };
        let (new_ready, old_ready) = (ready(&new_alive), ready(&old_alive));
        if old_alive.is_empty() && new_alive.len() == n && new_ready == n {
            self.w.cur_version[svc] = new_v;
            self.w.rollout[m] = NONE;
            self.decide(svc, "rollout", "complete", String::new());
            return true;
        }
        if new_alive.len() < n && new_alive.len() + old_alive.len() < n + surge as usize {
            return self.create_pod(m, new_v, 0);
        }
        if let Some(&i) = old_alive
            .iter()
            .find(|&&i| self.w.status[i] != Status::Ready)
        {
            self.remove_pod(i);
            return true;
        }
        let min_available = n.saturating_sub(unavailable as usize);
        if !old_alive.is_empty()
            && new_ready + old_ready > min_available
            && let Some(&i) = self.removal_order(old_alive).first()
        {
            self.remove_pod(i);
            return true;
        }
        if new_alive.len() > n
            && let Some(&i) = self.removal_order(new_alive).first()
        {
            self.remove_pod(i);
            return true;
        }
        false
    }

    fn decide(&mut self, svc: usize, kind: &str, outcome: &str, detail: String) {
        self.stats.decisions.push(Decision {
            t: self.now,
            replication: self.rep,
            service_index: svc as u32,
            service: String::new(),
            kind: kind.into(),
            outcome: outcome.into(),
            detail,
        });
    }

    // ---- deployments -------------------------------------------------------------------------------

    fn deploy(&mut self, d: usize) {
        let dep = self.plan.deployments[d].clone();
        let svc = dep.service as usize;
        let m = self.w.managed_of[svc];
        if m == NONE {
            return;
        }
        let m = m as usize;
        match dep.strategy {
            Strategy::Rolling { .. } => {
                self.w.rollout[m] = d as u32;
                self.reconcile(m);
            }
            Strategy::Canary {
                weight,
                replicas,
                after,
                ..
            } => {
                for _ in 0..replicas {
                    self.create_pod(m, dep.version, 1);
                }
                self.w.canary_weight[svc] = weight;
                self.w.analysing[svc] = d as u32;
                self.w.samples[d] = Samples {
                    from: self.now + dep.startup,
                    ..Samples::default()
                };
                self.schedule(self.now + dep.startup + after, Kind::Analysis, d as u32, 0);
            }
            Strategy::BlueGreen { .. } => {
                self.w.rollout[m] = d as u32;
                for _ in 0..self.w.desired[m] {
                    self.create_pod(m, dep.version, 1);
                }
            }
        }
    }

    /// Blue/green: when every green pod is ready, switch all traffic to them.
    fn blue_green_check(&mut self, m: usize) {
        let d = self.w.rollout[m];
        let Some(dep) = self.plan.deployments.get(d as usize).cloned() else {
            return;
        };
        let Strategy::BlueGreen { keep_old_for } = dep.strategy else {
            return;
        };
        let green = self.pods(m, 1, |_| true);
        let all_ready = green.len() >= self.w.desired[m] as usize
            && green.iter().all(|&i| self.w.status[i] == Status::Ready);
        if !all_ready {
            return;
        }
        let svc = dep.service as usize;
        let blue = self.pods(m, 0, |_| true);
        for &i in &blue {
            self.w.pool[i] = 2; // No traffic, kept for a while.
        }
        for &i in &green {
            self.w.pool[i] = 0;
        }
        self.rebuild_routes(svc);
        self.w.cur_version[svc] = dep.version;
        self.w.rollout[m] = NONE;
        self.decide(svc, "blue-green", "switch", String::new());
        self.schedule(self.now + keep_old_for, Kind::Retire, d, 0);
    }

    pub(super) fn retire_old(&mut self, d: usize) {
        let svc = self.plan.deployments[d].service as usize;
        let pods: Vec<usize> = self.p.svc_instances[svc]
            .iter()
            .map(|&i| i as usize)
            .filter(|&i| self.w.pool[i] == 2 && self.w.status[i] != Status::Absent)
            .collect();
        for i in pods {
            if self.w.status[i] == Status::Ready {
                self.set_status(i, Status::Draining);
            }
            if self.inst[i].outstanding == 0 || self.w.status[i] != Status::Draining {
                self.set_status(i, Status::Absent);
            }
            self.w.pool[i] = 0;
        }
        let m = self.w.managed_of[svc];
        if m != NONE {
            self.reconcile(m as usize);
        }
    }

    /// The canary analysis: one-sided Mann-Whitney U tests of the canary's latencies and
    /// error indicators against the baseline's (as Kayenta's judge does), each failing only
    /// when significant at `alpha` *and* beyond its tolerance. Any failure rolls back.
    pub(super) fn canary_analysis(&mut self, d: usize) {
        let dep = self.plan.deployments[d].clone();
        let Strategy::Canary {
            alpha,
            latency_tolerance,
            error_tolerance,
            ..
        } = dep.strategy
        else {
            return;
        };
        let svc = dep.service as usize;
        let s = std::mem::take(&mut self.w.samples[d]);
        let median = |v: &[f64]| {
            let mut x = v.to_vec();
            x.sort_by(f64::total_cmp);
            x.get(x.len() / 2).copied().unwrap_or(0.0)
        };
        let (mb, mc) = (median(&s.latency[0]), median(&s.latency[1]));
        let p_lat = mann_whitney_greater(&s.latency[1], &s.latency[0]);
        let rate = |k: usize| {
            if s.n[k] == 0 {
                0.0
            } else {
                s.errors[k] as f64 / s.n[k] as f64
            }
        };
        let (eb, ec) = (rate(0), rate(1));
        let indicators = |k: usize| -> Vec<f64> {
            let n = s.n[k].min(MAX_SAMPLES as u64 * 4) as usize;
            let errs = ((rate(k) * n as f64).round() as usize).min(n);
            let mut v = vec![0.0; n - errs];
            v.extend(std::iter::repeat_n(1.0, errs));
            v
        };
        let p_err = mann_whitney_greater(&indicators(1), &indicators(0));
        let latency_fails = p_lat < alpha && mb > 0.0 && mc / mb - 1.0 > latency_tolerance;
        let errors_fail = p_err < alpha && ec - eb > error_tolerance;
        let enough = s.n[1] >= 20 && s.n[0] >= 20;
        let promote = enough && !latency_fails && !errors_fail;
        let detail = format!(
            "latency median {:.2} ms vs {:.2} ms (p = {p_lat:.2e}), errors {:.2}% vs {:.2}% (p = {p_err:.2e}), {} canary and {} baseline visits",
            mc * 1e3,
            mb * 1e3,
            ec * 100.0,
            eb * 100.0,
            s.n[1],
            s.n[0]
        );
        let m = self.w.managed_of[svc];
        self.w.canary_weight[svc] = 0.0;
        self.w.analysing[svc] = NONE;
        if m == NONE {
            return;
        }
        let m = m as usize;
        for i in self.pods(m, 1, |_| true) {
            self.remove_pod(i);
        }
        if promote {
            for i in self.pods(m, 0, |_| true) {
                self.w.version[i] = dep.version;
            }
            self.w.cur_version[svc] = dep.version;
        }
        self.rebuild_routes(svc);
        self.decide(
            svc,
            "canary",
            if promote { "promote" } else { "rollback" },
            detail,
        );
        self.reconcile(m);
    }

    // ---- autoscaling -------------------------------------------------------------------------------

    /// One evaluation of an autoscaler (Kubernetes HPA rules on busy-worker utilization).
    pub(super) fn hpa_sync(&mut self, a: usize) {
        let spec = self.plan.autoscalers[a];
        self.schedule(self.now + spec.sync_period, Kind::HpaSync, a as u32, 0);
        let svc = spec.service as usize;
        let m = self.w.managed_of[svc];
        if m == NONE {
            return;
        }
        let m = m as usize;
        self.w.touch(svc, self.now);
        let db = self.w.busy_area[svc] - self.w.hpa_busy[a];
        let dc = self.w.cap_area[svc] - self.w.hpa_cap[a];
        self.w.hpa_busy[a] = self.w.busy_area[svc];
        self.w.hpa_cap[a] = self.w.cap_area[svc];
        if dc <= 0.0 {
            return; // No ready pod reported metrics.
        }
        let util = db / dc;
        let cur = self.w.desired[m];
        let ratio = util / spec.target;
        let workers = f64::from(self.p.svc_workers[svc].max(1));
        let ready_avg = dc / (spec.sync_period * workers);
        let rec = if (ratio - 1.0).abs() <= spec.tolerance {
            cur
        } else {
            ((ratio * ready_avg) - 1e-9).ceil().max(0.0) as u32
        };
        let rec = rec.clamp(spec.min, spec.max);
        let hist = &mut self.w.hpa_hist[a];
        hist.push((self.now, rec));
        let keep = spec.up_window.max(spec.down_window) + 1e-9;
        let now = self.now;
        hist.retain(|&(t, _)| t >= now - keep);
        let up = hist
            .iter()
            .filter(|&&(t, _)| t >= now - spec.up_window - 1e-9)
            .map(|&(_, r)| r)
            .min()
            .unwrap_or(rec);
        let down = hist
            .iter()
            .filter(|&&(t, _)| t >= now - spec.down_window - 1e-9)
            .map(|&(_, r)| r)
            .max()
            .unwrap_or(rec);
        let new = if cur < up {
            up
        } else if cur > down {
            down
        } else {
            cur
        };
        if new != cur {
            self.w.desired[m] = new;
            self.decide(
                svc,
                "autoscale",
                &format!("{cur} -> {new}"),
                format!("utilization {:.1}%", util * 100.0),
            );
            self.reconcile(m);
        }
    }
}
