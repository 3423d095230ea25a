//! Running a sweep on this machine: every (scenario, values) is compiled once, then the tasks
//! run in parallel on the current rayon pool. Results go to a sink as they finish (in any
//! order); [`crate::Table::build`] puts them back in task order.

use rayon::prelude::*;

use crate::bundle::Bundle;
use crate::spec::Sweep;
use crate::task::{TaskResult, Variant, run_task};
use crate::{Result, SweepError};

/// Compiles every (scenario, values) of `sweep`, in row order. The first problem (in row
/// order) is the error, so the message does not depend on the thread count.
pub fn prepare(sweep: &Sweep, bundle: &Bundle) -> Result<Vec<Variant>> {
    if bundle.hash() != sweep.bundle {
        return Err(SweepError::Corrupt {
            what: "sweep".into(),
            message: "the bundle is not the one the sweep names".into(),
        });
    }
    let twin = bundle.twin()?;
    let reps = sweep.replications.max(1) as usize;
    let prepared: Vec<Result<Variant>> = (0..sweep.variants())
        .into_par_iter()
        .map(|v| {
            let task = sweep.task(v * reps).ok_or_else(|| SweepError::Corrupt {
                what: "sweep".into(),
                message: format!("no task for row {v}"),
            })?;
            Variant::for_task(bundle, &twin.twin, &task)
        })
        .collect();
    prepared.into_iter().collect()
}

/// Runs the tasks of `sweep` for which `skip` is false on the current rayon pool, handing each
/// result to `sink` as it finishes.
pub fn run(
    sweep: &Sweep,
    variants: &[Variant],
    skip: &(dyn Fn(u32) -> bool + Sync),
    sink: &(dyn Fn(TaskResult) + Sync),
) {
    (0..sweep.len()).into_par_iter().for_each(|i| {
        let Some(task) = sweep.task(i) else { return };
        if skip(task.index) {
            return;
        }
        let result = match variants.get(task.variant as usize) {
            Some(v) => run_task(v, &task),
            None => TaskResult {
                index: task.index,
                outcome: Err(format!("no compiled scenario for task {}", task.index)),
            },
        };
        sink(result);
    });
}
