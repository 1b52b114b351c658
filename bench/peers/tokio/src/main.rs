//! tokio-peer: the tokio side of swarmsync's benchmark suite. bench/README.md defines the protocol
//! (`--list`, `CASE [--scale F]`, one JSON result line) and what every case measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::exit;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::mpsc;
use tokio::task::yield_now;

/// The global allocator: System, counting the heap bytes allocated and not yet freed (memory cases).
struct CountingAlloc;

static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        System.dealloc(p, layout);
        LIVE_BYTES.fetch_sub(layout.size() as i64, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = System.realloc(p, layout, new_size);
        if !q.is_null() {
            LIVE_BYTES.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: CountingAlloc = CountingAlloc;

fn live_bytes() -> i64 {
    LIVE_BYTES.load(Ordering::Relaxed)
}

const BROADCAST_SUBSCRIBERS: [usize; 3] = [4, 64, 256];
const BROADCAST_CAPACITIES: [usize; 2] = [16, 1024];
const YIELD_EVERY: u64 = 64; // a broadcast sender yields to the runtime this often
const MESSAGES: u64 = 4_000_000; // mpsc, all producers together
const PRODUCER_YIELD: u64 = 1024; // the _y1024 cases: a producer yields to the runtime this often

type Metrics = Vec<(&'static str, f64)>;

/// A failed check: the message to stderr, exit 1.
fn fail(msg: &str) -> ! {
    eprintln!("tokio-peer: {}", msg);
    exit(1)
}

/// A bad command line: the message to stderr, exit 2.
fn usage(msg: &str) -> ! {
    eprintln!("tokio-peer: {}\nusage: tokio-peer --list | tokio-peer CASE [--scale F]", msg);
    exit(2)
}

fn case_names() -> Vec<String> {
    let mut names: Vec<String> = [
        "mpsc_1_1",
        "mpsc_4_1",
        "mpsc_8_1",
        "mpsc_16_1",
        "mpsc_4_1_y1024",
        "mpsc_1_1_p64",
        "mpsc_1_1_y1024",
        "mpsc_1_1_p64_y1024",
        "bounded_4_1",
        "bounded_16_1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for s in BROADCAST_SUBSCRIBERS {
        for c in BROADCAST_CAPACITIES {
            for pacing in ["unpaced", "paced"] {
                names.push(format!("broadcast_{}_c{}_{}", s, c, pacing));
            }
        }
    }
    names.extend(["pingpong", "memory_mpsc", "memory_broadcast"].iter().map(|s| s.to_string()));
    names
}

/// `count` times the scale, at least `min`.
fn scaled(count: u64, scale: f64, min: u64) -> u64 {
    ((count as f64 * scale).round() as u64).max(min)
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// Checks mpsc values: every producer's sequence numbers arrive in order, none missing.
struct OrderCheck {
    next: Vec<u64>, // per producer, the sequence number expected next
}

impl OrderCheck {
    const SEQ_MASK: u64 = (1 << 56) - 1;

    fn new(producers: u64) -> OrderCheck {
        OrderCheck { next: vec![0; producers as usize] }
    }

    fn take(&mut self, v: u64) {
        match self.next.get_mut((v >> 56) as usize) {
            Some(next) if *next == v & Self::SEQ_MASK => *next += 1,
            _ => fail(&format!("mpsc: value {:#x} out of order or from an unknown producer", v)),
        }
    }

    fn finish(&self, per_producer: u64) {
        for (p, &n) in self.next.iter().enumerate() {
            if n != per_producer {
                fail(&format!("mpsc: producer {} delivered {} of {} values", p, n, per_producer));
            }
        }
    }
}

/// An mpsc item: a u64, or a 64-byte payload carrying one (mpsc_1_1_p64).
trait Item: Send + 'static {
    fn make(v: u64) -> Self;
    /// The value it carries; fails unless the rest of it is copies of the value.
    fn value(&self) -> u64;
}

impl Item for u64 {
    fn make(v: u64) -> u64 {
        v
    }

    fn value(&self) -> u64 {
        *self
    }
}

/// The 64-byte payload of mpsc_1_1_p64: the value in the first word, copies of it in the other seven.
struct Payload64([u64; 8]);

impl Item for Payload64 {
    fn make(v: u64) -> Payload64 {
        Payload64([v; 8])
    }

    fn value(&self) -> u64 {
        let v = self.0[0];
        if let Some(w) = self.0.iter().find(|&&w| w != v) {
            fail(&format!("mpsc: payload of value {:#x} has a word {:#x}", v, w));
        }
        v
    }
}

/// mpsc_P_1, mpsc_4_1_y1024, mpsc_1_1_p64, bounded_P_1: `producers` tasks send `per_producer` items
/// each (yielding to the runtime once every YIELD sends, never when 0), one consumer task receives
/// and checks them all. Timed from spawning the tasks to the consumer's end.
async fn mpsc_throughput<T: Item, const YIELD: u64>(producers: u64, per_producer: u64, bounded: bool) -> Metrics {
    let start;
    let consumer = if bounded {
        let (tx, mut rx) = mpsc::channel::<T>(1024);
        start = Instant::now();
        for p in 0..producers {
            let tx = tx.clone();
            tokio::spawn(async move {
                for seq in 0..per_producer {
                    if tx.send(T::make(p << 56 | seq)).await.is_err() {
                        fail("mpsc: the receiver is gone");
                    }
                    if YIELD != 0 && seq % YIELD == YIELD - 1 {
                        yield_now().await;
                    }
                }
            });
        }
        drop(tx);
        tokio::spawn(async move {
            let mut check = OrderCheck::new(producers);
            while let Some(v) = rx.recv().await {
                check.take(v.value());
            }
            check
        })
    } else {
        let (tx, mut rx) = mpsc::unbounded_channel::<T>();
        start = Instant::now();
        for p in 0..producers {
            let tx = tx.clone();
            tokio::spawn(async move {
                for seq in 0..per_producer {
                    if tx.send(T::make(p << 56 | seq)).is_err() {
                        fail("mpsc: the receiver is gone");
                    }
                    if YIELD != 0 && seq % YIELD == YIELD - 1 {
                        yield_now().await;
                    }
                }
            });
        }
        drop(tx);
        tokio::spawn(async move {
            let mut check = OrderCheck::new(producers);
            while let Some(v) = rx.recv().await {
                check.take(v.value());
            }
            check
        })
    };
    let check = consumer.await.unwrap();
    let elapsed = start.elapsed();
    check.finish(per_producer);
    vec![("mmsg_per_s", per_second(producers * per_producer, elapsed) / 1e6)]
}

/// broadcast_S_cC_{unpaced,paced}: one sender task sends 0..count to `subscribers` receiver tasks
/// over a broadcast channel of `capacity`; each receiver accounts for every value as received or
/// skipped through a lag. Paced, the sender stays less than capacity/2 values ahead of the slowest
/// receiver. Timed from spawning the tasks to the last receiver's end.
async fn broadcast_throughput(subscribers: usize, capacity: usize, count: u64, paced: bool) -> Metrics {
    let (tx, _) = broadcast::channel::<u64>(capacity);
    let receivers: Vec<_> = (0..subscribers).map(|_| tx.subscribe()).collect();
    // Per receiver, the values it has accounted for (received or skipped).
    let progress: Arc<Vec<AtomicU64>> = Arc::new((0..subscribers).map(|_| AtomicU64::new(0)).collect());

    let start = Instant::now();
    let receiver_tasks: Vec<_> = receivers
        .into_iter()
        .enumerate()
        .map(|(i, mut rx)| {
            let progress = progress.clone();
            tokio::spawn(async move {
                let (mut expected, mut received, mut skipped) = (0u64, 0u64, 0u64);
                loop {
                    match rx.recv().await {
                        Ok(v) if v == expected => {
                            expected += 1;
                            received += 1;
                        }
                        Ok(v) => fail(&format!("broadcast: expected {}, got {}", expected, v)),
                        Err(RecvError::Lagged(n)) => {
                            expected += n;
                            skipped += n;
                        }
                        Err(RecvError::Closed) => break,
                    }
                    progress[i].store(expected, Ordering::Release);
                }
                if expected != count {
                    fail(&format!("broadcast: a receiver accounted for {} of {} values", expected, count));
                }
                (received, skipped)
            })
        })
        .collect();

    let sender = tokio::spawn(async move {
        let half = capacity as u64 / 2;
        let mut slowest = 0u64; // cached minimum of `progress`, refreshed only when it says "too far ahead"
        for v in 0..count {
            while paced && v - slowest >= half {
                slowest = progress.iter().map(|p| p.load(Ordering::Acquire)).min().unwrap();
                if v - slowest >= half {
                    yield_now().await;
                }
            }
            if tx.send(v).is_err() {
                fail("broadcast: no receiver left");
            }
            if v % YIELD_EVERY == YIELD_EVERY - 1 {
                yield_now().await;
            }
        }
        // Dropping tx here closes the channel: the receivers end with Closed.
    });

    let (mut received, mut skipped) = (0u64, 0u64);
    for task in receiver_tasks {
        let (r, s) = task.await.unwrap();
        received += r;
        skipped += s;
    }
    let elapsed = start.elapsed();
    sender.await.unwrap();
    vec![
        ("mdeliveries_per_s", per_second(received, elapsed) / 1e6),
        ("lagged_pct", 100.0 * skipped as f64 / (count * subscribers as u64) as f64),
    ]
}

/// pingpong: one task sends i over an unbounded mpsc, an echo task sends it back over another;
/// every round trip is timed.
async fn pingpong(rounds: u64) -> Metrics {
    let (ping_tx, mut ping_rx) = mpsc::unbounded_channel::<u64>();
    let (pong_tx, mut pong_rx) = mpsc::unbounded_channel::<u64>();

    let start = Instant::now();
    let echo = tokio::spawn(async move {
        while let Some(v) = ping_rx.recv().await {
            if pong_tx.send(v).is_err() {
                fail("pingpong: the pinger is gone");
            }
        }
    });
    let ping = tokio::spawn(async move {
        let mut round_trips_ns = Vec::with_capacity(rounds as usize);
        for i in 0..rounds {
            let t = Instant::now();
            if ping_tx.send(i).is_err() {
                fail("pingpong: the echo task is gone");
            }
            match pong_rx.recv().await {
                Some(v) if v == i => {}
                other => fail(&format!("pingpong: sent {}, got back {:?}", i, other)),
            }
            round_trips_ns.push(t.elapsed().as_nanos() as u64);
        }
        round_trips_ns // dropping ping_tx ends the echo task
    });
    let mut round_trips_ns = ping.await.unwrap();
    let elapsed = start.elapsed();
    echo.await.unwrap();

    round_trips_ns.sort_unstable();
    let percentile = |p: f64| round_trips_ns[(p * (round_trips_ns.len() - 1) as f64).floor() as usize] as f64;
    vec![
        ("rt_p50_ns", percentile(0.50)),
        ("rt_p99_ns", percentile(0.99)),
        ("round_trips_per_s", per_second(rounds, elapsed)),
    ]
}

/// memory_mpsc: heap bytes per value queued in an unbounded mpsc, none received yet.
async fn memory_mpsc(count: u64) -> Metrics {
    let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
    // Warm-up: the channel's first block is allocated and in use before measuring.
    tx.send(0).unwrap();
    rx.recv().await.unwrap();

    let before = live_bytes();
    for seq in 0..count {
        tx.send(seq).unwrap();
    }
    let after = live_bytes();

    drop(tx);
    let mut check = OrderCheck::new(1);
    while let Some(v) = rx.recv().await {
        check.take(v);
    }
    check.finish(count);
    vec![("bytes_per_msg", (after - before) as f64 / count as f64)]
}

/// memory_broadcast: heap bytes per slot of a full broadcast channel of capacity 1024 (the channel
/// itself included), then per subscriber added with subscribe().
fn memory_broadcast() -> Metrics {
    const CAPACITY: usize = 1024;
    const MORE_SUBSCRIBERS: usize = 64;
    let mut subscribers = Vec::with_capacity(MORE_SUBSCRIBERS); // allocated before measuring

    let before = live_bytes();
    let (tx, _rx) = broadcast::channel::<u64>(CAPACITY);
    for v in 0..CAPACITY as u64 {
        tx.send(v).unwrap();
    }
    let after_fill = live_bytes();
    for _ in 0..MORE_SUBSCRIBERS {
        subscribers.push(tx.subscribe());
    }
    let after_subscribe = live_bytes();

    vec![
        ("bytes_per_slot", (after_fill - before) as f64 / CAPACITY as f64),
        ("bytes_per_subscriber", (after_subscribe - after_fill) as f64 / MORE_SUBSCRIBERS as f64),
    ]
}

/// Runs one case on a fresh 2-worker runtime.
fn run_case(case: &str, scale: f64) -> Metrics {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(&format!("cannot build the runtime: {}", e)));
    // mpsc: MESSAGES values in all, shared by the producers.
    let per_producer = |producers: u64| scaled(MESSAGES / producers, scale, 1);
    runtime.block_on(async {
        match case {
            "mpsc_1_1" => mpsc_throughput::<u64, 0>(1, per_producer(1), false).await,
            "mpsc_4_1" => mpsc_throughput::<u64, 0>(4, per_producer(4), false).await,
            "mpsc_8_1" => mpsc_throughput::<u64, 0>(8, per_producer(8), false).await,
            "mpsc_16_1" => mpsc_throughput::<u64, 0>(16, per_producer(16), false).await,
            "mpsc_4_1_y1024" => mpsc_throughput::<u64, PRODUCER_YIELD>(4, per_producer(4), false).await,
            "mpsc_1_1_p64" => mpsc_throughput::<Payload64, 0>(1, per_producer(1), false).await,
            "mpsc_1_1_y1024" => mpsc_throughput::<u64, PRODUCER_YIELD>(1, per_producer(1), false).await,
            "mpsc_1_1_p64_y1024" => mpsc_throughput::<Payload64, PRODUCER_YIELD>(1, per_producer(1), false).await,
            "bounded_4_1" => mpsc_throughput::<u64, 0>(4, per_producer(4), true).await,
            "bounded_16_1" => mpsc_throughput::<u64, 0>(16, per_producer(16), true).await,
            "pingpong" => pingpong(scaled(200_000, scale, 100)).await,
            "memory_mpsc" => memory_mpsc(scaled(1_000_000, scale, 1)).await,
            "memory_broadcast" => memory_broadcast(),
            _ => {
                // broadcast_S_cC_{unpaced,paced}; run_case only sees names from case_names().
                let parts: Vec<&str> = case.split('_').collect();
                let subscribers: usize = parts[1].parse().unwrap();
                let capacity: usize = parts[2][1..].parse().unwrap();
                // 1,000,000 values to 4 subscribers; 16,000,000 deliveries' worth to more.
                let count = if subscribers == 4 { 1_000_000 } else { 16_000_000 / subscribers as u64 };
                broadcast_throughput(subscribers, capacity, scaled(count, scale, 1), parts[3] == "paced").await
            }
        }
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() == 1 && args[0] == "--list" {
        for name in case_names() {
            println!("{}", name);
        }
        return;
    }

    let mut case = None;
    let mut scale = 1.0;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--scale" {
            scale = match rest.next().map(|s| s.parse::<f64>()) {
                Some(Ok(f)) if f.is_finite() && f > 0.0 => f,
                _ => usage("--scale takes a positive number"),
            };
        } else if arg.starts_with('-') {
            usage(&format!("unknown flag {}", arg));
        } else if case.is_none() {
            case = Some(arg.as_str());
        } else {
            usage(&format!("unexpected argument {}", arg));
        }
    }
    let case = case.unwrap_or_else(|| usage("no case given"));
    if !case_names().iter().any(|name| name == case) {
        usage(&format!("unknown case {}", case));
    }

    let metrics = run_case(case, scale);
    let fields: Vec<String> = metrics.iter().map(|(name, value)| format!("\"{}\":{:.3}", name, value)).collect();
    println!("{{\"impl\":\"tokio\",\"case\":\"{}\",\"metrics\":{{{}}}}}", case, fields.join(","));
}
