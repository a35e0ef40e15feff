// qtactors-bench: every workload of issue 4 for QtActors, plain Qt and CAF in one process run,
// printed as a Markdown table with ratios, the performance bar with pass/miss per line, and the
// allocations per cast and per call. Progress goes to stderr, results to stdout.
//
//   qtactors-bench [--scale F] [--reps N] [--only KEY[,KEY…]] [--side SIDE[,SIDE…]] [--list]
//
// --only and --side select workloads and sides (for profiling one of them, e.g. under callgrind).
// --scale multiplies every iteration count (1 = the counts); --reps keeps the best of N
// runs of each timed workload. The spawn workload runs in a fresh child process per side
// (qtactors-bench --child spawn SIDE COUNT), so that its RSS figures start from a clean heap.
#include "alloccounter.h"
#include "harness.h"
#include "workloads.h"

#include <QtCore/QAbstractEventDispatcher>
#include <QtCore/QCoreApplication>
#include <QtCore/QEventLoop>
#include <QtCore/QProcess>
#include <QtCore/QThread>
#include <QtCore/QTimer>

#ifdef QTACTORS_BENCH_HAVE_CAF
#include <caf/config.hpp>
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace bench {
namespace {

// --- Configuration ------------------------------------------------------------------------------

struct Config
{
    double scale = 1.0;
    int reps = 3;
    std::set<std::string> only;  // workloads; empty: every one
    std::set<std::string> sides; // qtactors, qt, caf; empty: all three (for profiling one side)

    long n(long base) const { return std::max(1L, long(std::llround(double(base) * scale))); }
    bool wants(const std::string &key) const { return only.empty() || only.count(key); }
    bool runs(const std::string &side) const { return sides.empty() || sides.count(side); }
};

// The counts at --scale 1.
constexpr long kCasts = 2'000'000;
constexpr long kFanInCasts = 2'000'000;
constexpr int kFanInProducers = 4;
constexpr long kBlockingCalls = 20'000;
constexpr long kPairs = 1'000'000;
constexpr long kSpawnActors = 100'000;
constexpr long kSpawnQtThreads = 1'000;
constexpr int kRingNodes = 1'000;
constexpr long kRingHops = 1'000'000;
constexpr int kGuiProducers = 2;
constexpr long kGuiPerProducer = 1'000'000;
constexpr long kAllocCasts = 200'000;
constexpr long kAllocCalls = 20'000;
constexpr long kAllocPairs = 100'000;
constexpr int kTimerSamples = 500;
constexpr int kTimerDelayMs = 2;
constexpr long kPendingTimers = 100'000;
constexpr long kBoundedCasts = 2'000'000;
constexpr long kBoundedCapacity = 1'024;
constexpr long kRoomCasts = 500'000;
constexpr long kRoomCapacity = 64;
constexpr long kLatestUpdates = 1'000'000;
constexpr int kTreeDepth = 19;          // 2^20 - 1 actors
constexpr int kFloodSenders = 100;
constexpr long kFloodPerSender = 100'000;
constexpr MixedSpec kMixed{}; // 5 rings of 100 actors, 1,000 laps, 4 repetitions

// --- Cells and rows -----------------------------------------------------------------------------

struct Cell
{
    enum Kind { None, Value, NotAvailable } kind = None; // None: no counterpart by design ("—")
    double value = 0;
    std::string why; // NotAvailable: the reason

    static Cell none() { return {}; }
    static Cell of(double v) { return {Value, v, {}}; }
    static Cell na(std::string reason) { return {NotAvailable, 0, std::move(reason)}; }
    bool ok() const { return kind == Value; }
};

struct Row
{
    Row() = default;
    Row(std::string k, std::string w, std::string u, bool higher, std::string n = {})
        : key(std::move(k)), workload(std::move(w)), unit(std::move(u)), higherIsBetter(higher),
          note(std::move(n))
    {
    }
    std::string key;
    std::string workload;
    std::string unit;
    bool higherIsBetter = true;
    Cell qtactors, qt, caf;
    std::string note; // what the Qt/CAF columns measured, when not obvious
};

std::string format(double v)
{
    char buf[64];
    const double a = std::fabs(v);
    if (a == 0)
        return "0";
    if (a >= 1000)
        std::snprintf(buf, sizeof buf, "%.0f", v);
    else if (a >= 100)
        std::snprintf(buf, sizeof buf, "%.1f", v);
    else if (a >= 1)
        std::snprintf(buf, sizeof buf, "%.2f", v);
    else
        std::snprintf(buf, sizeof buf, "%.3f", v);
    return buf;
}

std::string formatCount(double v)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f", v); // 1.002 must not print as 1.00 next to a bar of 1
    return buf;
}

std::string show(const Cell &c, const std::string &unit = {})
{
    switch (c.kind) {
    case Cell::None:
        return "—";
    case Cell::Value:
        return unit == "count" ? formatCount(c.value) : format(c.value);
    case Cell::NotAvailable:
        return "n/a (" + c.why + ")";
    }
    return "?";
}

std::optional<double> ratio(const Cell &a, const Cell &b)
{
    if (!a.ok() || !b.ok() || b.value == 0)
        return std::nullopt;
    return a.value / b.value;
}

std::string showRatio(const Cell &a, const Cell &b)
{
    if (b.kind == Cell::None)
        return "—";
    const auto r = ratio(a, b);
    if (!r)
        return "n/a";
    return format(*r) + "×";
}

void progress(const char *fmt, const std::string &what)
{
    std::fprintf(stderr, fmt, what.c_str());
    std::fflush(stderr);
}

//! Runs a measurement `reps` times and keeps the best value; an exception becomes n/a.
Cell measure(const Config &config, const std::string &label, bool higherIsBetter,
             const std::function<double()> &fn, int reps = -1)
{
    if (reps < 0)
        reps = config.reps;
    std::optional<double> best;
    for (int r = 0; r < reps; ++r) {
        progress("  %-58s", label);
        const auto start = Clock::now();
        try {
            const double v = fn();
            std::fprintf(stderr, " %12s  (%.2f s)\n", format(v).c_str(), secondsSince(start));
            if (!best || (higherIsBetter ? v > *best : v < *best))
                best = v;
        } catch (const std::exception &e) {
            std::fprintf(stderr, " failed: %s\n", e.what());
            return Cell::na(e.what());
        }
    }
    return Cell::of(*best);
}

Cell notBuilt(const char *what) { return Cell::na(std::string(what) + " not built"); }

// --- Spawn workload in a child process ----------------------------------------------------------

struct SpawnCells
{
    Cell microsPerActor, rssPerActor, heapPerActor;
};

SpawnCells spawnInChild(const Config &config, const std::string &side, long count)
{
    SpawnCells cells;
    std::optional<SpawnResult> best;
    for (int r = 0; r < config.reps; ++r) {
        progress("  %-58s", "spawn " + side + " (" + std::to_string(count) + ", child process)");
        QProcess child;
        child.setProcessChannelMode(QProcess::SeparateChannels);
        child.start(QCoreApplication::applicationFilePath(),
                    {QStringLiteral("--child"), QStringLiteral("spawn"), QString::fromStdString(side),
                     QString::number(count)});
        std::string failure;
        if (!child.waitForFinished(180'000)) {
            child.kill();
            child.waitForFinished();
            failure = "child process timed out or failed to start";
        } else if (child.exitStatus() != QProcess::NormalExit || child.exitCode() != 0) {
            QString err = QString::fromLocal8Bit(child.readAllStandardError()).trimmed();
            err.replace(QLatin1Char('\n'), QLatin1Char(' '));
            failure = "child process failed: " + err.right(160).toStdString();
        }
        SpawnResult result;
        if (failure.empty()) {
            const std::string out = child.readAllStandardOutput().toStdString();
            const auto pos = out.find("SPAWN ");
            if (pos == std::string::npos
                || std::sscanf(out.c_str() + pos, "SPAWN %ld %lf %lf %lf", &result.actors,
                               &result.seconds, &result.rssBytesPerActor, &result.heapBytesPerActor)
                    != 4)
                failure = "unreadable child output";
        }
        if (!failure.empty()) {
            std::fprintf(stderr, " failed: %s\n", failure.c_str());
            const Cell na = Cell::na(failure);
            return {na, na, na};
        }
        std::fprintf(stderr, " %9.2f µs/actor %9.0f B/actor  (%.2f s)\n",
                     result.seconds * 1e6 / double(result.actors), result.rssBytesPerActor,
                     result.seconds);
        if (!best || result.seconds < best->seconds)
            best = result;
    }
    cells.microsPerActor = Cell::of(best->seconds * 1e6 / double(best->actors));
    cells.rssPerActor = Cell::of(best->rssBytesPerActor);
    cells.heapPerActor = Cell::of(best->heapBytesPerActor);
    return cells;
}

//! This process's peak resident set in KiB: VmHWM of /proc/self/status, the high-water mark of
//! this program's own memory. (getrusage's ru_maxrss is no good here: across fork and exec it keeps
//! the parent's peak, so every child would report at least the bench process's size.)
long peakResidentKiB()
{
    FILE *status = std::fopen("/proc/self/status", "r");
    if (!status)
        return -1;
    char line[256];
    long kib = -1;
    while (std::fgets(line, sizeof line, status)) {
        if (std::sscanf(line, "VmHWM: %ld kB", &kib) == 1)
            break;
    }
    std::fclose(status);
    return kib;
}

//! The mixed program's counts from its child's command line: RINGS RING_SIZE LAPS REPETITIONS.
MixedSpec mixedSpec(int argc, char **argv)
{
    if (argc < 9)
        throw std::runtime_error("mixed: four counts expected");
    return MixedSpec{std::atoi(argv[5]), std::atoi(argv[6]), std::atoi(argv[7]), std::atoi(argv[8])};
}

//! qtactors-bench --child program NAME SIDE COUNT [COUNT2…]: one workload program in a process
//! of its own, so that its peak RSS is its own. Prints "PROGRAM seconds KiB".
int runProgramChild(int argc, char **argv)
{
    if (argc < 6)
        return 2;
    const std::string name = argv[3], side = argv[4];
    const long a = std::atol(argv[5]);
    const long b = argc > 6 ? std::atol(argv[6]) : 0;
    Seconds seconds = 0;
    try {
        if (side == "qtactors") {
#ifdef QTACTORS_BENCH_HAVE_QTACTORS
            seconds = name == "tree" ? qta::spawnTree(int(a)) : name == "mixed" ? qta::mixed(mixedSpec(argc, argv)) : qta::mailboxFlood(int(a), b);
#else
            return 1;
#endif
        } else if (side == "caf") {
#ifdef QTACTORS_BENCH_HAVE_CAF
            seconds = name == "tree" ? caf::spawnTree(int(a)) : name == "mixed" ? caf::mixed(mixedSpec(argc, argv)) : caf::mailboxFlood(int(a), b);
#else
            return 1;
#endif
        } else {
            return 2;
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    std::printf("PROGRAM %.9f %ld\n", seconds, peakResidentKiB());
    std::fflush(stdout);
    return 0;
}

int runChild(int argc, char **argv)
{
    if (argc >= 3 && std::strcmp(argv[2], "program") == 0)
        return runProgramChild(argc, argv);
    if (argc < 5 || std::strcmp(argv[2], "spawn") != 0)
        return 2;
    const std::string side = argv[3];
    const long count = std::atol(argv[4]);
    SpawnResult result;
    try {
        if (side == "qtactors") {
#ifdef QTACTORS_BENCH_HAVE_QTACTORS
            result = qta::spawn(count);
#else
            std::fprintf(stderr, "QtActors side not built\n");
            return 1;
#endif
        } else if (side == "qt") {
            result = qt::spawn(count);
        } else if (side == "caf") {
#ifdef QTACTORS_BENCH_HAVE_CAF
            result = caf::spawn(count);
#else
            std::fprintf(stderr, "CAF side not built\n");
            return 1;
#endif
        } else {
            return 2;
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    std::printf("SPAWN %ld %.9f %.3f %.3f\n", result.actors, result.seconds,
                result.rssBytesPerActor, result.heapBytesPerActor);
    std::fflush(stdout);
    return 0;
}

struct ProgramCells
{
    Cell seconds, peakMiB;
};

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

//! Runs a workload program in a fresh child process `reps` times: the medians of its time and of
//! its peak RSS.
ProgramCells programInChild(const Config &config, const std::string &name, const std::string &side,
                            const QStringList &counts)
{
    std::vector<double> times, peaks;
    for (int r = 0; r < config.reps; ++r) {
        progress("  %-58s", name + " " + side + " (child process)");
        QProcess child;
        child.setProcessChannelMode(QProcess::SeparateChannels);
        child.start(QCoreApplication::applicationFilePath(),
                    QStringList{QStringLiteral("--child"), QStringLiteral("program"),
                                QString::fromStdString(name), QString::fromStdString(side)}
                            + counts);
        std::string failure;
        double seconds = 0;
        long kib = 0;
        if (!child.waitForFinished(600'000)) {
            child.kill();
            child.waitForFinished();
            failure = "child process timed out or failed to start";
        } else if (child.exitStatus() != QProcess::NormalExit || child.exitCode() != 0) {
            QString err = QString::fromLocal8Bit(child.readAllStandardError()).trimmed();
            err.replace(QLatin1Char('\n'), QLatin1Char(' '));
            failure = "child process failed: " + err.right(160).toStdString();
        } else {
            const std::string out = child.readAllStandardOutput().toStdString();
            const auto pos = out.find("PROGRAM ");
            if (pos == std::string::npos
                || std::sscanf(out.c_str() + pos, "PROGRAM %lf %ld", &seconds, &kib) != 2)
                failure = "unreadable child output";
        }
        if (!failure.empty()) {
            std::fprintf(stderr, " failed: %s\n", failure.c_str());
            return {Cell::na(failure), Cell::na(failure)};
        }
        std::fprintf(stderr, " %9.3f s, peak RSS %8.1f MiB\n", seconds, double(kib) / 1024);
        times.push_back(seconds);
        peaks.push_back(double(kib) / 1024);
    }
    return {Cell::of(median(times)), Cell::of(median(peaks))};
}

// --- GUI timer delay ----------------------------------------------------------------------------

struct GuiDelay
{
    double p99Ms = 0, maxMs = 0;
    long samples = 0;
};

//! Runs a 1 ms precise QTimer on this (the main) thread's event loop while `load` runs on another
//! thread, and appends each tick's delay to `delays`: how much later than 1 ms after the previous
//! tick it fired.
void collectTimerDelays(const std::function<void()> &load, std::vector<double> &delays)
{
    QTimer timer;
    timer.setTimerType(Qt::PreciseTimer);
    timer.setInterval(1);
    Clock::time_point last;
    bool first = true;
    QObject::connect(&timer, &QTimer::timeout, [&] {
        const auto now = Clock::now();
        if (!first)
            delays.push_back(std::chrono::duration<double, std::milli>(now - last).count() - 1.0);
        first = false;
        last = now;
    });
    QEventLoop loop;
    std::exception_ptr error;
    std::thread loader([&] {
        try {
            load();
        } catch (...) {
            error = std::current_exception();
        }
        QMetaObject::invokeMethod(&loop, [&loop] { loop.quit(); }, Qt::QueuedConnection);
    });
    timer.start();
    loop.exec();
    timer.stop();
    loader.join();
    if (error)
        std::rethrow_exception(error);
}

GuiDelay summarize(std::vector<double> delays)
{
    if (delays.size() < 10)
        throw std::runtime_error("too few timer ticks (" + std::to_string(delays.size()) + ")");
    std::sort(delays.begin(), delays.end());
    GuiDelay result;
    result.samples = long(delays.size());
    const size_t p99 = size_t(std::ceil(0.99 * double(delays.size()))) - 1;
    result.p99Ms = std::max(0.0, delays[p99]);
    result.maxMs = std::max(0.0, delays.back());
    return result;
}

// --- The bar ------------------------------------------------------------------------------------

struct BarLine
{
    std::string text;
    std::string rowKey;
    enum Against { VsQt, VsCaf, Absolute, VsRow } against;
    bool atLeast; // true: value >= limit; false: value <= limit
    double limit;
    std::string otherKey = {}; // VsRow: the QtActors value of this row is the reference
};

std::vector<BarLine> theBar()
{
    return {
        {"cast throughput (pool) ≥ 1.5× CAF", "cast_pool", BarLine::VsCaf, true, 1.5},
        {"cast throughput (pool) ≥ 10× plain Qt queued invokeMethod", "cast_pool", BarLine::VsQt, true, 10},
        {"cast throughput (dedicated thread) ≥ 5× plain Qt", "cast_dedicated", BarLine::VsQt, true, 5},
        {"blocking call round trip (pool) ≤ 0.2× CAF", "call_pool", BarLine::VsCaf, false, 0.2},
        {"blocking call round trip (pool) ≤ 0.2× BlockingQueuedConnection", "call_pool", BarLine::VsQt, false, 0.2},
        {"blocking call round trip (pool) no slower than QtConcurrent::run().result()", "call_pool_vs_run", BarLine::VsQt, false, 1.0},
        {"blocking call round trip (dedicated) ≤ 0.2× CAF", "call_dedicated", BarLine::VsCaf, false, 0.2},
        {"blocking call round trip (dedicated) ≤ 0.2× BlockingQueuedConnection", "call_dedicated", BarLine::VsQt, false, 0.2},
        {"blocking call round trip (dedicated) no slower than QtConcurrent::run().result()", "call_dedicated_vs_run", BarLine::VsQt, false, 1.0},
        {"actor-to-actor co_await round trip no slower than CAF request/then", "co_await", BarLine::VsCaf, false, 1.0},
        {"spawn no slower than CAF", "spawn_time", BarLine::VsCaf, false, 1.0},
        {"bytes of RSS per idle actor ≤ 0.25× CAF", "spawn_rss", BarLine::VsCaf, false, 0.25},
        {"ring ≥ 2× CAF hops per second", "ring", BarLine::VsCaf, true, 2.0},
        {"GUI timer p99 delay under load ≤ 2 ms", "gui_p99", BarLine::Absolute, false, 2.0},
        {"allocations per cast (pool) ≤ 1", "alloc_cast_pool", BarLine::Absolute, false, 1.0},
        {"allocations per cast (dedicated thread) ≤ 1", "alloc_cast_dedicated", BarLine::Absolute, false, 1.0},
        {"allocations per blocking call (pool) ≤ 2", "alloc_call_pool", BarLine::Absolute, false, 2.0},
        {"allocations per blocking call (dedicated thread) ≤ 2", "alloc_call_dedicated", BarLine::Absolute, false, 2.0},
        {"allocations per co_await call ≤ 2", "alloc_co_await", BarLine::Absolute, false, 2.0},
        {"blocking call round trip (pool) beside a CPU-bound thread ≤ 5 µs", "call_pool_busy", BarLine::Absolute, false, 5.0},
        {"blocking call with a timeout ≤ 1.1× one without", "call_timeout", BarLine::VsRow, false, 1.1, "call_pool"},
        {"actor-to-actor co_await with a timeout ≤ 1.1× one without", "co_await_timeout", BarLine::VsRow, false, 1.1, "co_await"},
        {"castAfter p99 lateness ≤ 2 ms (as S17 asks of timeouts)", "timer_late_p99", BarLine::Absolute, false, 2.0},
        {"100,000 pending timers: bytes each ≤ 0.5× QTimer's", "timer_bytes", BarLine::VsQt, false, 0.5},
        {"100,000 pending timers: arm + cancel no slower than QTimer's", "timer_arm", BarLine::VsQt, false, 1.0},
        {"bounded (capacity 1,024) cast throughput ≥ 0.8× unbounded", "burst_bounded", BarLine::VsRow, true, 0.8, "burst_unbounded"},
        {"spawn tree (2^20 - 1 actors): peak RSS ≤ 2× CAF", "tree_rss", BarLine::VsCaf, false, 2.0},
        {"spawn tree: time ≤ 0.5× CAF", "tree_time", BarLine::VsCaf, false, 0.5},
        {"mailbox flood (100 × 100,000 casts): peak RSS ≤ 1.0× CAF", "flood_rss", BarLine::VsCaf, false, 1.0},
        {"mailbox flood: time ≤ 0.5× CAF", "flood_time", BarLine::VsCaf, false, 0.5},
        {"mixed (5 rings × 100 actors, factorizations on worker threads): time ≤ 0.9× CAF", "mixed_time", BarLine::VsCaf, false, 0.9},
    };
}

// --- The run ------------------------------------------------------------------------------------

int runAll(const Config &config)
{
    const bool haveQtActors =
#ifdef QTACTORS_BENCH_HAVE_QTACTORS
        true;
#else
        false;
#endif
    const bool haveCaf =
#ifdef QTACTORS_BENCH_HAVE_CAF
        true;
#else
        false;
#endif
    // Each side's call, or the reason it cannot run.
    const Cell skipped = Cell::na("side not selected");
    auto qtaCell = [&](const std::string &label, bool higher, const std::function<double()> &fn) {
        if (!config.runs("qtactors"))
            return skipped;
        return haveQtActors ? measure(config, "QtActors  " + label, higher, fn) : notBuilt("QtActors side");
    };
    auto qtCell = [&](const std::string &label, bool higher, const std::function<double()> &fn) {
        if (!config.runs("qt"))
            return skipped;
        return measure(config, "plain Qt  " + label, higher, fn);
    };
    auto cafCell = [&](const std::string &label, bool higher, const std::function<double()> &fn) {
        if (!config.runs("caf"))
            return skipped;
        return haveCaf ? measure(config, "CAF       " + label, higher, fn) : notBuilt("CAF side (libcaf-dev)");
    };
    auto mrate = [](long n, Seconds s) { return double(n) / s / 1e6; };
    auto micros = [](long n, Seconds s) { return s * 1e6 / double(n); };

    // The bodies of each side are referenced only when built (the linker would miss them otherwise).
#ifdef QTACTORS_BENCH_HAVE_QTACTORS
#define QTA(expr) (expr)
#else
#define QTA(expr) (throw std::logic_error("unreachable"), 0.0)
#endif
#ifdef QTACTORS_BENCH_HAVE_CAF
#define CAF(expr) (expr)
#else
#define CAF(expr) (throw std::logic_error("unreachable"), 0.0)
#endif

    std::vector<Row> rows;
    std::map<std::string, Cell> extra; // secondary figures for the notes
    std::map<std::string, long> guiTicks; // timer ticks behind each GUI figure

    const long casts = config.n(kCasts);
    Cell qtCast, cafCast;
    if (config.wants("cast")) {
        std::fprintf(stderr, "cast throughput, 1 producer, %ld casts + 1 confirming call\n", casts);
        Row pool{"cast_pool", "cast throughput, 1 producer, pool", "M casts/s", true, ""};
        Row dedicated{"cast_dedicated", "cast throughput, 1 producer, dedicated thread", "M casts/s", true, "plain Qt and CAF: the same runs as the row above"};
        pool.qtactors = qtaCell("cast, pool", true, [&] { return mrate(casts, QTA(qta::castThroughput(Exec::Pool, casts))); });
        dedicated.qtactors = qtaCell("cast, dedicated thread", true, [&] { return mrate(casts, QTA(qta::castThroughput(Exec::Dedicated, casts))); });
        qtCast = qtCell("queued invokeMethod to a QThread", true, [&] { return mrate(casts, qt::castThroughput(casts)); });
        cafCast = cafCell("anon_send to a stateful actor", true, [&] { return mrate(casts, CAF(caf::castThroughput(casts))); });
        pool.qt = dedicated.qt = qtCast;
        pool.caf = dedicated.caf = cafCast;
        pool.note = "plain Qt: queued invokeMethod to a QObject on a worker QThread; CAF: anon_send to a stateful actor";
        rows.push_back(pool);
        rows.push_back(dedicated);
    }

    if (config.wants("fan-in")) {
        const long n = config.n(kFanInCasts);
        std::fprintf(stderr, "fan-in, %d producers, %ld casts in all\n", kFanInProducers, n);
        Row row{"fan_in", "fan-in, 4 producer threads into one actor, pool", "M casts/s", true, ""};
        row.qtactors = qtaCell("cast, pool", true, [&] { return mrate(n, QTA(qta::fanIn(kFanInProducers, n))); });
        row.qt = qtCell("queued invokeMethod", true, [&] { return mrate(n, qt::fanIn(kFanInProducers, n)); });
        row.caf = cafCell("anon_send", true, [&] { return mrate(n, CAF(caf::fanIn(kFanInProducers, n))); });
        rows.push_back(row);
    }

    if (config.wants("call")) {
        const long n = config.n(kBlockingCalls);
        std::fprintf(stderr, "blocking call round trip from a plain thread, %ld calls\n", n);
        Row pool{"call_pool", "blocking call round trip, pool", "µs", false, "plain Qt: BlockingQueuedConnection; CAF: scoped_actor request + receive"};
        Row dedicated{"call_dedicated", "blocking call round trip, dedicated thread", "µs", false, "plain Qt and CAF: the same runs as the row above"};
        pool.qtactors = qtaCell("call().wait(), pool", false, [&] { return micros(n, QTA(qta::blockingCalls(Exec::Pool, n))); });
        dedicated.qtactors = qtaCell("call().wait(), dedicated thread", false, [&] { return micros(n, QTA(qta::blockingCalls(Exec::Dedicated, n))); });
        const Cell blockingQueued = qtCell("BlockingQueuedConnection", false, [&] { return micros(n, qt::blockingQueuedCalls(n)); });
        const Cell concurrentRun = qtCell("QtConcurrent::run().result()", false, [&] { return micros(n, qt::concurrentRunResults(n)); });
        const Cell cafCall = cafCell("scoped_actor request + receive", false, [&] { return micros(n, CAF(caf::blockingCalls(n))); });
        pool.qt = dedicated.qt = blockingQueued;
        pool.caf = dedicated.caf = cafCall;
        Row poolVsRun{"call_pool_vs_run", "blocking call round trip, pool, vs QtConcurrent::run().result()", "µs", false, "plain Qt: QtConcurrent::run(f).result()"};
        Row dedicatedVsRun{"call_dedicated_vs_run", "blocking call round trip, dedicated, vs QtConcurrent::run().result()", "µs", false, "plain Qt: the same run as the row above"};
        poolVsRun.qtactors = pool.qtactors;
        dedicatedVsRun.qtactors = dedicated.qtactors;
        poolVsRun.qt = dedicatedVsRun.qt = concurrentRun;
        poolVsRun.caf = dedicatedVsRun.caf = Cell::none();
        rows.push_back(pool);
        rows.push_back(dedicated);
        rows.push_back(poolVsRun);
        rows.push_back(dedicatedVsRun);

        // The same round trip with one CPU-bound thread running beside (2 cores: one is taken).
        Row busy{"call_pool_busy", "blocking call round trip, pool, one CPU-bound thread beside", "µs", false, "as the pool row above, while one more thread computes without pause"};
        busy.qtactors = qtaCell("call().wait(), pool, busy thread beside", false, [&] { const BusyThread beside; return micros(n, QTA(qta::blockingCalls(Exec::Pool, n))); });
        busy.qt = qtCell("BlockingQueuedConnection, busy thread beside", false, [&] { const BusyThread beside; return micros(n, qt::blockingQueuedCalls(n)); });
        busy.caf = cafCell("scoped_actor request + receive, busy thread beside", false, [&] { const BusyThread beside; return micros(n, CAF(caf::blockingCalls(n))); });
        rows.push_back(busy);
    }

    if (config.wants("co_await")) {
        const long n = config.n(kPairs);
        std::fprintf(stderr, "actor-to-actor request/response, sequential, %ld pairs\n", n);
        Row row{"co_await", "actor-to-actor request/response round trip, pool", "µs", false, "QtActors: co_await b.call(…) in a's coroutine handler; CAF: request(…).then(…)"};
        row.qt = Cell::none();
        row.qtactors = qtaCell("co_await b.call() in a's handler", false, [&] { return micros(n, QTA(qta::coAwaitCalls(n))); });
        row.caf = cafCell("request(...).then(...)", false, [&] { return micros(n, CAF(caf::requestThen(n))); });
        rows.push_back(row);
    }

    if (config.wants("time")) {
        const long calls = config.n(kBlockingCalls), pairs = config.n(kPairs);
        const int samples = int(config.n(kTimerSamples));
        const long pending = config.n(kPendingTimers);
        std::fprintf(stderr, "time: calls with a timeout, timer lateness (%d × %d ms), %ld pending timers\n",
                     samples, kTimerDelayMs, pending);
        Row callTimeout{"call_timeout", "blocking call round trip with a timeout, pool", "µs", false, "QtActors: call(…).timeout(10s).wait(); the bar compares it with the row without a timeout"};
        callTimeout.qt = callTimeout.caf = Cell::none();
        callTimeout.qtactors = qtaCell("call().timeout(10s).wait(), pool", false, [&] { return micros(calls, QTA(qta::blockingCallsWithTimeout(calls))); });
        Row awaitTimeout{"co_await_timeout", "actor-to-actor round trip with a timeout, pool", "µs", false, "QtActors: co_await b.call(…).timeout(10s); compare with the row without"};
        awaitTimeout.qt = awaitTimeout.caf = Cell::none();
        awaitTimeout.qtactors = qtaCell("co_await b.call().timeout(10s)", false, [&] { return micros(pairs, QTA(qta::coAwaitCallsWithTimeout(pairs))); });
        Row p50{"timer_late_p50", "timer lateness p50, 2 ms one-shot timers", "ms", false, "QtActors: castAfter to a dedicated-thread actor; plain Qt: QTimer::singleShot on a worker QThread"};
        Row p99{"timer_late_p99", "timer lateness p99, 2 ms one-shot timers", "ms", false, ""};
        p50.caf = p99.caf = Cell::none();
        // One run gives both figures of a pair; each cell keeps its best run, as everywhere.
        double qtaP99 = 1e300, qtP99 = 1e300, qtaArm = 1e300, qtArm = 1e300;
        p50.qtactors = qtaCell("castAfter lateness p50 (p99 kept too)", false, [&] {
            const Lateness l = QTA((qta::castAfterLateness(samples, kTimerDelayMs)));
            qtaP99 = std::min(qtaP99, l.p99Ms);
            return l.p50Ms;
        });
        p99.qtactors = p50.qtactors.ok() ? Cell::of(qtaP99) : p50.qtactors;
        p50.qt = qtCell("QTimer::singleShot lateness p50 (p99 kept too)", false, [&] {
            const Lateness l = qt::singleShotLateness(samples, kTimerDelayMs);
            qtP99 = std::min(qtP99, l.p99Ms);
            return l.p50Ms;
        });
        p99.qt = p50.qt.ok() ? Cell::of(qtP99) : p50.qt;
        Row bytes{"timer_bytes", "heap per pending timer, 100,000 pending", "bytes", false, "plain Qt: a started QTimer (with its connection) per timer"};
        Row arm{"timer_arm", "arm + cancel one of 100,000 pending timers", "µs", false, "plain Qt: QTimer::start + stop, in its thread"};
        bytes.caf = arm.caf = Cell::none();
        bytes.qtactors = qtaCell("castAfter(1 h) pending: bytes (arm + cancel kept too)", false, [&] {
            const PendingTimers t = QTA((qta::pendingTimers(pending)));
            qtaArm = std::min(qtaArm, t.armCancelMicros);
            return t.heapBytesEach;
        });
        arm.qtactors = bytes.qtactors.ok() ? Cell::of(qtaArm) : bytes.qtactors;
        bytes.qt = qtCell("QTimer(1 h) pending: bytes (start + stop kept too)", false, [&] {
            const PendingTimers t = qt::pendingTimers(pending);
            qtArm = std::min(qtArm, t.armCancelMicros);
            return t.heapBytesEach;
        });
        arm.qt = bytes.qt.ok() ? Cell::of(qtArm) : bytes.qt;
        for (Row *r : {&callTimeout, &awaitTimeout, &p50, &p99, &bytes, &arm})
            rows.push_back(*r);
    }

    if (config.wants("flow")) {
        const long casts = config.n(kBoundedCasts), room = config.n(kRoomCasts), updates = config.n(kLatestUpdates);
        std::fprintf(stderr, "flow control: %ld bounded casts, %ld castWhenRoom at capacity %ld, %ld castLatest updates\n",
                     casts, room, kRoomCapacity, updates);
        Row unbounded{"burst_unbounded", "casts in bursts of 1,000, unbounded, pool", "M casts/s", true, "each burst followed by a call that waits for it; the bar compares the bounded row with this one"};
        Row bounded{"burst_bounded", "casts in bursts of 1,000, capacity 1,024, pool", "M casts/s", true, ""};
        unbounded.qt = unbounded.caf = bounded.qt = bounded.caf = Cell::none();
        unbounded.qtactors = qtaCell("casts in bursts, unbounded", true, [&] { return mrate(casts, QTA(qta::burstCasts(casts, 1000, 0))); });
        bounded.qtactors = qtaCell("casts in bursts, capacity 1,024", true, [&] { return mrate(casts, QTA(qta::burstCasts(casts, 1000, kBoundedCapacity))); });
        Row producer{"when_room", "producer slowed to the consumer, at most 64 waiting", "M casts/s", true,
                     "QtActors: castWhenRoom(…).wait() into a capacity-64 actor; plain Qt: QSemaphore(64) acquired per queued invokeMethod, released by the handler; CAF 0.17 has no bounded mailbox: a scoped_actor keeps at most 64 requests in flight"};
        producer.qtactors = qtaCell("castWhenRoom().wait(), capacity 64", true, [&] { return mrate(room, QTA(qta::whenRoomProducer(room, kRoomCapacity))); });
        producer.qt = qtCell("QSemaphore(64) + queued invokeMethod", true, [&] { return mrate(room, qt::semaphoreBoundedProducer(room, int(kRoomCapacity))); });
        producer.caf = cafCell("64 requests in flight", true, [&] { return mrate(room, CAF(caf::windowedProducer(room, int(kRoomCapacity)))); });
        Row latest{"latest_flood", "castLatest, 1 key, 1M updates (handled count in the notes)", "ms", false, "the plain column is the same flood as plain casts, every one handled"};
        latest.caf = Cell::none();
        long handledLatest = 0, handledPlain = 0;
        latest.qtactors = qtaCell("castLatest(0, …) flood", false, [&] { const auto r = QTA((qta::latestFlood(updates, true))); handledLatest = r.handled; return r.seconds * 1e3; });
        latest.qt = qtaCell("cast flood (reference)", false, [&] { const auto r = QTA((qta::latestFlood(updates, false))); handledPlain = r.handled; return r.seconds * 1e3; });
        extra["latest_handled"] = Cell::of(double(handledLatest));
        extra["latest_plain_handled"] = Cell::of(double(handledPlain));
        for (Row *r : {&unbounded, &bounded, &producer, &latest})
            rows.push_back(*r);
    }

    for (const std::string name : {"tree", "flood", "mixed"}) {
        if (!config.wants(name))
            continue;
        const bool tree = name == "tree", flood = name == "flood";
        // The tree shrinks with --scale by whole levels; the mixed program by laps.
        const int depth = std::clamp(kTreeDepth + int(std::lround(std::log2(config.scale))), 8, kTreeDepth);
        const long per = config.n(kFloodPerSender);
        const MixedSpec mixed{kMixed.rings, kMixed.ringSize, int(config.n(kMixed.laps)), kMixed.repetitions};
        const QStringList counts = tree    ? QStringList{QString::number(depth)}
                                   : flood ? QStringList{QString::number(kFloodSenders), QString::number(per)}
                                           : QStringList{QString::number(mixed.rings), QString::number(mixed.ringSize),
                                                         QString::number(mixed.laps), QString::number(mixed.repetitions)};
        if (tree)
            std::fprintf(stderr, "spawn tree: %ld actors, each spawns two children and sums their answers (median of %d child processes)\n",
                         (2L << depth) - 1, config.reps);
        else if (flood)
            std::fprintf(stderr, "mailbox flood: %d senders × %ld casts to one counter (median of %d child processes)\n",
                         kFloodSenders, per, config.reps);
        else
            std::fprintf(stderr, "mixed: %d rings × %d actors, %d laps × %d repetitions, a factorization per repetition on each ring's worker thread (median of %d child processes)\n",
                         mixed.rings, mixed.ringSize, mixed.laps, mixed.repetitions, config.reps);
        const std::string title = tree    ? "spawn tree: 2^20 - 1 actors, each calls two children"
                                  : flood ? "mailbox flood: 100 senders × 100,000 casts to one actor"
                                          : "mixed: 5 rings × 100 actors × 1,000 laps × 4, plus 20 factorizations on worker threads";
        const std::string how = tree ? "QtActors: a coroutine handler spawns two Actors, calls both and co_awaits the answers; CAF: request/then to two spawned children, answered through a response promise; a fresh process each, median"
                                : flood ? "QtActors: each sender's handler casts in a loop, then a call reads the count; CAF: each sender's handler send()s in a loop, then a request reads the count; a fresh process each, median"
                                        : "QtActors: pool rings of Actor<Link> linked through State, workers on dedicatedThread(); CAF: event-based rings, detached workers; one supervisor checks every factorization and counts every hop; a fresh process each, median";
        Row time{name + "_time", title, "s", false, how};
        Row rss{name + "_rss", tree ? "spawn tree: peak RSS" : flood ? "mailbox flood: peak RSS" : "mixed: peak RSS", "MiB", false,
                "the whole process's peak resident set (VmHWM), median"};
        time.qt = rss.qt = Cell::none();
        const ProgramCells none{skipped, skipped};
        const ProgramCells q = !config.runs("qtactors") ? none : haveQtActors ? programInChild(config, name, "qtactors", counts) : ProgramCells{notBuilt("QtActors side"), notBuilt("QtActors side")};
        const ProgramCells c = !config.runs("caf") ? none : haveCaf ? programInChild(config, name, "caf", counts) : ProgramCells{notBuilt("CAF side"), notBuilt("CAF side")};
        time.qtactors = q.seconds; time.caf = c.seconds;
        rss.qtactors = q.peakMiB; rss.caf = c.peakMiB;
        rows.push_back(time);
        rows.push_back(rss);
    }

    if (config.wants("spawn")) {
        const long n = config.n(kSpawnActors);
        const long threads = config.n(kSpawnQtThreads);
        std::fprintf(stderr, "spawn %ld pool actors (plain Qt: %ld QThreads), one message + one call each, drop all\n", n, threads);
        Row time{"spawn_time", "spawn + 1 message + 1 call + drop, per actor", "µs", false, "plain Qt: one QThread + QObject per actor, " + std::to_string(threads) + " of them"};
        Row rss{"spawn_rss", "RSS per idle actor", "bytes", false, "RSS growth / actors, all idle, each side in a fresh child process"};
        Row heap{"spawn_heap", "heap (operator new) per idle actor", "bytes", false, "live bytes from operator new / actors"};
        const SpawnCells none{skipped, skipped, skipped};
        SpawnCells q = !config.runs("qtactors") ? none : haveQtActors ? spawnInChild(config, "qtactors", n) : SpawnCells{notBuilt("QtActors side"), notBuilt("QtActors side"), notBuilt("QtActors side")};
        SpawnCells p = !config.runs("qt") ? none : spawnInChild(config, "qt", threads);
        SpawnCells c = !config.runs("caf") ? none : haveCaf ? spawnInChild(config, "caf", n) : SpawnCells{notBuilt("CAF side"), notBuilt("CAF side"), notBuilt("CAF side")};
        time.qtactors = q.microsPerActor; time.qt = p.microsPerActor; time.caf = c.microsPerActor;
        rss.qtactors = q.rssPerActor; rss.qt = p.rssPerActor; rss.caf = c.rssPerActor;
        heap.qtactors = q.heapPerActor; heap.qt = p.heapPerActor; heap.caf = c.heapPerActor;
        rows.push_back(time);
        rows.push_back(rss);
        rows.push_back(heap);
    }

    if (config.wants("ring")) {
        const long hops = config.n(kRingHops);
        std::fprintf(stderr, "ring of %d actors, %ld hops\n", kRingNodes, hops);
        Row row{"ring", "ring: 1,000 actors pass a token", "M hops/s", true, "plain Qt: one QThreadPool::start per hop"};
        row.qtactors = qtaCell("cast around the ring", true, [&] { return mrate(hops, QTA(qta::ring(kRingNodes, hops))); });
        row.qt = qtCell("QThreadPool::start hops", true, [&] { return mrate(hops, qt::ring(kRingNodes, hops)); });
        row.caf = cafCell("send around the ring", true, [&] { return mrate(hops, CAF(caf::ring(kRingNodes, hops))); });
        rows.push_back(row);
    }

    if (config.wants("gui")) {
        const long per = config.n(kGuiPerProducer);
        std::fprintf(stderr, "GUI timer delay, %d threads cast %ld messages each to 16 receivers\n", kGuiProducers, per);
        Row p99{"gui_p99", "GUI thread: 1 ms QTimer p99 delay under load", "ms", false, "plain Qt: invokeMethod to 16 QObjects on 2 worker QThreads"};
        Row max{"gui_max", "GUI thread: 1 ms QTimer max delay under load", "ms", false};
        p99.caf = max.caf = Cell::none();
        // The ticks of every repetition are pooled: p99 and max are over all of them.
        auto gui = [&](const std::string &label, const std::function<void()> &load, Row &r99, Row &rmax, Cell Row::*column) {
            std::vector<double> delays;
            delays.reserve(1 << 16);
            try {
                for (int r = 0; r < config.reps; ++r) {
                    progress("  %-58s", label);
                    const auto start = Clock::now();
                    const size_t before = delays.size();
                    collectTimerDelays(load, delays);
                    const GuiDelay d = summarize({delays.begin() + long(before), delays.end()});
                    std::fprintf(stderr, " p99 %.3f ms, max %.3f ms, %ld ticks  (%.2f s)\n", d.p99Ms, d.maxMs, d.samples, secondsSince(start));
                }
                const GuiDelay all = summarize(delays);
                r99.*column = Cell::of(all.p99Ms);
                rmax.*column = Cell::of(all.maxMs);
                guiTicks[label] = all.samples;
            } catch (const std::exception &e) {
                std::fprintf(stderr, " failed: %s\n", e.what());
                r99.*column = rmax.*column = Cell::na(e.what());
            }
        };
        if (config.sides.empty()) {
            Row idle99, idleMax;
            gui("no load (reference)", [] { std::this_thread::sleep_for(std::chrono::milliseconds(500)); }, idle99, idleMax, &Row::qt);
            extra["gui_idle_p99"] = idle99.qt;
            extra["gui_idle_max"] = idleMax.qt;
        }
        if (!config.runs("qtactors"))
            p99.qtactors = max.qtactors = skipped;
        else if (haveQtActors)
            gui("QtActors  cast to 16 pool actors", [&] { (void)QTA((qta::guiLoad(kGuiProducers, per), 0.0)); }, p99, max, &Row::qtactors);
        else
            p99.qtactors = max.qtactors = notBuilt("QtActors side");
        if (config.runs("qt"))
            gui("plain Qt  invokeMethod to 16 QObjects", [&] { qt::guiLoad(kGuiProducers, per); }, p99, max, &Row::qt);
        else
            p99.qt = max.qt = skipped;
        rows.push_back(p99);
        rows.push_back(max);
    }

    if (config.wants("alloc")) {
        const long casts2 = config.n(kAllocCasts), calls = config.n(kAllocCalls), pairs = config.n(kAllocPairs);
        std::fprintf(stderr, "allocations (operator new, all threads): %ld casts, %ld calls, %ld pairs\n", casts2, calls, pairs);
        Row castPool{"alloc_cast_pool", "allocations per cast, pool", "count", false, "plain Qt: queued invokeMethod; CAF: anon_send"};
        Row castDedicated{"alloc_cast_dedicated", "allocations per cast, dedicated thread", "count", false, ""};
        Row callPool{"alloc_call_pool", "allocations per blocking call, pool", "count", false, "plain Qt: BlockingQueuedConnection; CAF: scoped_actor request + receive"};
        Row callDedicated{"alloc_call_dedicated", "allocations per blocking call, dedicated thread", "count", false, ""};
        Row coAwait{"alloc_co_await", "allocations per actor-to-actor call", "count", false, "QtActors: co_await b.call(…); CAF: request(…).then(…)"};
        coAwait.qt = Cell::none();
        auto single = [&](const std::string &label, const std::function<double()> &fn, bool built) {
            const std::string side = label.rfind("QtActors", 0) == 0 ? "qtactors" : label.rfind("CAF", 0) == 0 ? "caf" : "qt";
            if (!config.runs(side))
                return skipped;
            return built ? measure(config, label, false, fn, 1) : Cell::na("not built");
        };
        castPool.qtactors = single("QtActors  cast, pool", [&] { return QTA(qta::allocationsPerCast(Exec::Pool, casts2).perOperation); }, haveQtActors);
        castDedicated.qtactors = single("QtActors  cast, dedicated", [&] { return QTA(qta::allocationsPerCast(Exec::Dedicated, casts2).perOperation); }, haveQtActors);
        callPool.qtactors = single("QtActors  call().wait(), pool", [&] { return QTA(qta::allocationsPerCall(Exec::Pool, calls).perOperation); }, haveQtActors);
        callDedicated.qtactors = single("QtActors  call().wait(), dedicated", [&] { return QTA(qta::allocationsPerCall(Exec::Dedicated, calls).perOperation); }, haveQtActors);
        coAwait.qtactors = single("QtActors  co_await b.call()", [&] { return QTA(qta::allocationsPerCoAwaitCall(pairs).perOperation); }, haveQtActors);
        castPool.qt = castDedicated.qt = single("plain Qt  queued invokeMethod", [&] { return qt::allocationsPerCast(casts2).perOperation; }, true);
        callPool.qt = callDedicated.qt = single("plain Qt  BlockingQueuedConnection", [&] { return qt::allocationsPerCall(calls).perOperation; }, true);
        castPool.caf = castDedicated.caf = single("CAF       anon_send", [&] { return CAF(caf::allocationsPerCast(casts2).perOperation); }, haveCaf);
        callPool.caf = callDedicated.caf = single("CAF       request + receive", [&] { return CAF(caf::allocationsPerCall(calls).perOperation); }, haveCaf);
        coAwait.caf = single("CAF       request(...).then(...)", [&] { return CAF(caf::allocationsPerRequestThen(pairs).perOperation); }, haveCaf);
        for (Row *r : {&castPool, &castDedicated, &callPool, &callDedicated, &coAwait})
            rows.push_back(*r);
    }
#undef QTA
#undef CAF

    // --- Output: Markdown ---
    std::printf("## Results\n\n");
    std::printf("Ratios are QtActors' value divided by the other column's, in the row's unit: for "
                "rates (M …/s) higher is better, for times, bytes and counts lower is better.\n\n");
    std::printf("| workload | unit | QtActors | plain Qt | CAF | QtActors/Qt | QtActors/CAF |\n");
    std::printf("|---|---|---:|---:|---:|---:|---:|\n");
    std::map<std::string, const Row *> byKey;
    for (const Row &r : rows) {
        byKey[r.key] = &r;
        std::printf("| %s | %s | %s | %s | %s | %s | %s |\n", r.workload.c_str(), r.unit.c_str(),
                    show(r.qtactors, r.unit).c_str(), show(r.qt, r.unit).c_str(), show(r.caf, r.unit).c_str(),
                    showRatio(r.qtactors, r.qt).c_str(), showRatio(r.qtactors, r.caf).c_str());
    }
    std::printf("\nWhat the columns measured:\n\n");
    for (const Row &r : rows)
        if (!r.note.empty())
            std::printf("- *%s*: %s.\n", r.workload.c_str(), r.note.c_str());
    if (extra.count("latest_handled"))
        std::printf("- *castLatest flood*: %.0f of the updates were handled (plain casts: %.0f): the rest were superseded while waiting.\n",
                    extra["latest_handled"].value, extra["latest_plain_handled"].value);
    if (extra.count("gui_idle_p99"))
        std::printf("- *GUI thread*, no load (reference): p99 %s ms, max %s ms.\n",
                    show(extra["gui_idle_p99"]).c_str(), show(extra["gui_idle_max"]).c_str());
    for (const auto &[label, ticks] : guiTicks) {
        std::string text;
        for (char c : label) // "QtActors  cast…" -> "QtActors cast…"
            if (c != ' ' || text.empty() || text.back() != ' ')
                text += c;
        std::printf("- *GUI thread*, %s: %ld timer ticks over all runs.\n", text.c_str(), ticks);
    }

    std::printf("\n## The bar\n\n| line | measured | result |\n|---|---:|---|\n");
    int passed = 0, missed = 0, unknown = 0;
    for (const BarLine &line : theBar()) {
        const auto it = byKey.find(line.rowKey);
        std::string measured = "n/a", verdict = "not measured";
        if (it != byKey.end()) {
            const Row &row = *it->second;
            std::optional<double> v;
            if (line.against == BarLine::VsRow) {
                const auto other = byKey.find(line.otherKey);
                if (other != byKey.end())
                    v = ratio(row.qtactors, other->second->qtactors);
            } else if (line.against == BarLine::VsQt)
                v = ratio(row.qtactors, row.qt);
            else if (line.against == BarLine::VsCaf)
                v = ratio(row.qtactors, row.caf);
            else if (row.qtactors.ok())
                v = row.qtactors.value;
            if (v) {
                // a tiny tolerance for counts that include another thread's stray allocation
                const double eps = line.against == BarLine::Absolute ? 1e-3 : 0;
                const bool ok = line.atLeast ? *v >= line.limit - eps : *v <= line.limit + eps;
                measured = line.against != BarLine::Absolute ? format(*v) + "×"
                         : row.unit == "count" ? formatCount(*v) + " " + row.unit
                                                : format(*v) + " " + row.unit;
                verdict = ok ? "**pass**" : "**miss**";
                ++(ok ? passed : missed);
            } else {
                ++unknown;
            }
        } else {
            ++unknown;
        }
        std::printf("| %s | %s | %s |\n", line.text.c_str(), measured.c_str(), verdict.c_str());
    }
    std::printf("\n%d pass, %d miss, %d not measured.\n", passed, missed, unknown);
    if (extra.count("gui_idle_p99") && extra["gui_idle_p99"].ok() && extra["gui_idle_p99"].value > 2.0)
        std::printf("\nThe GUI timer's p99 delay without any load was already %s ms in this run: the "
                    "machine itself misses that line, whatever runs on it.\n",
                    show(extra["gui_idle_p99"]).c_str());
    return 0;
}

void printRunInfo(const Config &config)
{
    std::printf("## Run\n\n");
    std::printf("- compiler: %s, build type %s\n", QTACTORS_BENCH_COMPILER, QTACTORS_BENCH_BUILD_TYPE);
    std::printf("- Qt %s, event dispatcher %s%s\n", qVersion(),
                QAbstractEventDispatcher::instance() ? QAbstractEventDispatcher::instance()->metaObject()->className() : "none",
                qEnvironmentVariableIsSet("QT_NO_GLIB") ? " (QT_NO_GLIB set)" : "");
#ifdef QTACTORS_BENCH_HAVE_CAF
    std::printf("- CAF %d.%d.%d, default actor_system_config (scheduler threads = cores)\n",
                CAF_MAJOR_VERSION, CAF_MINOR_VERSION, CAF_PATCH_VERSION);
#else
    std::printf("- CAF: not found at build time (CAF columns are n/a)\n");
#endif
    std::printf("- QThread::idealThreadCount() = %d\n", QThread::idealThreadCount());
    std::printf("- iteration scale %.3g (1 = the issue's counts), best of %d run(s) per timed cell\n\n",
                config.scale, config.reps);
}

} // namespace
} // namespace bench

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (argc >= 2 && std::strcmp(argv[1], "--child") == 0)
        return bench::runChild(argc, argv);

    bench::Config config;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", arg.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (arg == "--scale") {
            config.scale = std::atof(value().c_str());
        } else if (arg == "--reps") {
            config.reps = std::max(1, std::atoi(value().c_str()));
        } else if (arg == "--only") {
            std::stringstream list(value());
            std::string key;
            while (std::getline(list, key, ','))
                config.only.insert(key);
        } else if (arg == "--side") {
            std::stringstream list(value());
            std::string key;
            while (std::getline(list, key, ','))
                config.sides.insert(key);
        } else if (arg == "--list") {
            std::printf("cast fan-in call co_await time flow tree flood mixed spawn ring gui alloc\n");
            return 0;
        } else {
            std::fprintf(stderr,
                         "usage: %s [--scale F] [--reps N] [--only cast,fan-in,call,co_await,time,flow,tree,flood,mixed,spawn,ring,gui,alloc] [--side qtactors,qt,caf] [--list]\n",
                         argv[0]);
            return 2;
        }
    }
    if (!(config.scale > 0)) {
        std::fprintf(stderr, "--scale must be positive\n");
        return 2;
    }
    bench::printRunInfo(config);
    return bench::runAll(config);
}
