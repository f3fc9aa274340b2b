//! Timed tests and heavy tests kept apart. All the server's tests are one binary, so tests of
//! different areas run side by side (two at a time by default), where each area used to run
//! alone in a binary of its own. A test whose assertions race the wall clock (a window of a
//! second, a pong due within half a second, a reply due within a few seconds under a flood)
//! holds [`timed`]; a test that loads the machine (a PostgreSQL cluster or moto of its own, a
//! flooded hub) holds [`heavy`] (`pg::Pg` and `s3::Moto` hold it for as long as they run). Tests
//! of one kind run together as before; a test of the other kind waits until they are done. Tests
//! that hold neither run alongside anything, as their timing never mattered.
#![allow(dead_code)]

use std::sync::{Condvar, Mutex, PoisonError};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Timed,
    Heavy,
}

/// Which kind runs now, and how many of its tests.
static RUNNING: Mutex<(Option<Kind>, usize)> = Mutex::new((None, 0));
static CHANGED: Condvar = Condvar::new();

/// Held by a test of one kind for as long as it runs; released on drop, a panic included.
#[must_use = "the test runs apart only while it holds the guard"]
pub struct Guard(Kind);

fn enter(kind: Kind) -> Guard {
    let mut running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
    while running.0.is_some_and(|k| k != kind) {
        running = CHANGED
            .wait(running)
            .unwrap_or_else(PoisonError::into_inner);
    }
    *running = (Some(kind), running.1 + 1);
    Guard(kind)
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
        debug_assert_eq!(running.0, Some(self.0));
        running.1 -= 1;
        if running.1 == 0 {
            running.0 = None;
            CHANGED.notify_all();
        }
    }
}

/// For a test whose assertions race the wall clock: no heavy test runs meanwhile.
pub fn timed() -> Guard {
    enter(Kind::Timed)
}

/// For a test that loads the machine: no timed test runs meanwhile.
pub fn heavy() -> Guard {
    enter(Kind::Heavy)
}
