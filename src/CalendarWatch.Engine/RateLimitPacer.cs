using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace CalendarWatch.Engine
{
    /// <summary>One attempt started through a <see cref="RateLimitPacer"/>; hand it back once the attempt has ended.</summary>
    public readonly struct PacerSlot : IEquatable<PacerSlot>
    {
        internal PacerSlot(long sequence) => Sequence = sequence;

        /// <summary>The attempt's number within its pacer (0 = the first attempt the pacer let start).</summary>
        public long Sequence { get; }

        public bool Equals(PacerSlot other) => other.Sequence == Sequence;

        public override bool Equals(object? obj) => obj is PacerSlot other && Equals(other);

        public override int GetHashCode() => Sequence.GetHashCode();

        public static bool operator ==(PacerSlot left, PacerSlot right) => left.Equals(right);

        public static bool operator !=(PacerSlot left, PacerSlot right) => !left.Equals(right);
    }

    /// <summary>
    /// One identity's pacing under a per-user rate limit it is never told. Google documents its quotas as sliding
    /// windows (so many requests per user per minute); the pacer learns the two numbers from what the server admits
    /// and refuses, and from then on lets an attempt start only while fewer than <see cref="Budget"/> attempts that
    /// started within the last <see cref="Window"/> were admitted or are still in flight: the server is kept full,
    /// so requests are neither refused nor left unsent.
    /// <para>
    /// Until the first refusal nothing is paced. A refusal (403 usage limits or 429) opens a learning episode: starts
    /// stop for the Retry-After of that refusal, if any, then single probes go out at growing gaps (a tenth of the
    /// time since the refusal) until one is admitted. The attempts refused in the episode (those in flight and the
    /// probes) show how long the window stayed full, the admitted probe when it freed: the shortest window under which
    /// every admission and refusal seen is explained, and the admissions inside it, become the window and the budget.
    /// A Retry-After is taken as a lower bound of the window. An episode with a single refusal among answers is noise
    /// (a stray 429) and teaches nothing; so is one in which a later attempt got through.
    /// </para>
    /// <para>
    /// Afterwards the window is narrowed by bisection, one attempt at a time (one that would be allowed a quarter of
    /// the way up from the lower bound but not yet under the known window), and widened when an attempt at its edge is
    /// refused. Evidence is noisy (an attempt held up on its way is refused at an edge it did not cross), so the window
    /// in use carries a margin of twice the mean deviation of attempt durations (0.5 % to 3 % of the window), an edge
    /// refusal widens only the upper bound, and a lower bound raised by a refused try relaxes halfway back after each
    /// window without a refusal. AIMD-style, the budget is
    /// probed upwards: while the budget's attempts sit inside even the shortest plausible window (a burst, as when a
    /// command starts), one more may go; if the server takes it the budget grows by a step that doubles each time
    /// (past <see cref="HistoryCapacity"/> pacing stops: there is no limit worth pacing), if not, the next probe waits
    /// twice as long (4 to 16 windows); a learning episode sets the budget to what the server admitted.
    /// </para>
    /// <para>
    /// The shared pause (nothing starts) follows only refusals nothing explains: the one that opens an episode and
    /// refused probes of one. A refusal the pacer asked for (a window try, a budget probe) or explains (an attempt at
    /// the window's edge) holds only its own item, for its Retry-After. Starts are granted first come, first served,
    /// so refused items are not starved by newer ones. Every decision is made on <see cref="TimeProvider"/> time
    /// without randomness: the same inputs give the same decisions.
    /// </para>
    /// </summary>
    public sealed class RateLimitPacer
    {
        /// <summary>Attempts remembered (their start and outcome): the largest budget the pacer can hold.</summary>
        public const int HistoryCapacity = 4096;

        /// <summary>Each probe waits this share of the time since the refusal that opened the episode.</summary>
        private const double ProbeGrowth = 0.1;

        /// <summary>
        /// The window in use is the learned one plus a margin for latency jitter at its edge: twice the mean
        /// deviation of attempt durations, at least this share of the window ...
        /// </summary>
        private const double MinWindowMargin = 0.005;

        /// <summary>... and at most this share.</summary>
        private const double MaxWindowMargin = 0.03;

        /// <summary>Bisection stops when the window is known to within this share.</summary>
        private const double WindowPrecision = 0.02;

        /// <summary>Windows from a learning episode to the first budget probe; it doubles while they are refused ...</summary>
        private const int FirstBudgetProbeWindows = 4;

        /// <summary>... up to this many.</summary>
        private const int MaxProbeBackoffWindows = 16;

        private static readonly TimeSpan MinProbeGap = TimeSpan.FromMilliseconds(5);
        private static readonly TimeSpan Never = TimeSpan.MaxValue;

        private readonly TimeProvider _time;
        private readonly long _origin;
        private readonly object _lock = new object();
        private readonly long[] _starts = new long[HistoryCapacity];      // start of attempt n at n % capacity (ticks since _origin)
        private readonly byte[] _outcomes = new byte[HistoryCapacity];    // Pending, Completed or Refused
        private readonly LinkedList<Waiter> _waiters = new LinkedList<Waiter>();
        private ITimer? _timer;
        private TimeSpan _timerDue = Never;
        private long _next;                 // the sequence number of the next attempt

        // What has been learned: 0 = nothing yet (no pacing).
        private int _budget;
        private TimeSpan _windowLow;        // the window is longer than this ...
        private TimeSpan _windowHigh;       // ... and at most this long
        private TimeSpan _pauseUntil;       // Retry-After: nothing starts before
        private TimeSpan _fitLow;           // the lower bound the last learning episode established
        private TimeSpan _relaxedAt;        // when the lower bound last relaxed (or was raised)

        // A budget probe: one attempt beyond the budget while the window is full (see Decide).
        private long _over = -1;
        private int _overStep = 1;          // what an admitted budget probe adds (doubles while they are admitted)
        private int _overBackoff = FirstBudgetProbeWindows; // windows to the next budget probe (doubles while they are refused)
        private TimeSpan _overNextAt;
        private TimeSpan _learnedAt;        // when the last learning episode closed

        // A learning episode (a refusal while nothing explained it).
        private bool _learning;
        private TimeSpan _refusedAt;        // start of the attempt whose refusal opened the episode
        private TimeSpan _lastRefused;      // latest start of an attempt refused in the episode
        private TimeSpan _nextProbe;
        private TimeSpan _retryAfter;       // longest Retry-After heard in the episode
        private long _episodeFirst;         // first attempt started after the episode opened
        private long _probe = -1;
        private int _refusedInEpisode;
        private int _completedInEpisode;    // attempts that started before the episode and got through during it
        private long _settled;              // attempts before this one started before the last episode closed

        // How long attempts take (mean and mean deviation, moving averages): the jitter the margin allows for.
        private TimeSpan _durationMean;
        private TimeSpan _durationDeviation = TimeSpan.MaxValue;

        // A bisection probe of the window.
        private long _try = -1;
        private TimeSpan _tryWindow;

        public RateLimitPacer()
            : this(TimeProvider.System)
        {
        }

        /// <param name="timeProvider">The clock and timers every decision uses.</param>
        public RateLimitPacer(TimeProvider timeProvider)
        {
            _time = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
            _origin = _time.GetTimestamp();
        }

        private enum Start
        {
            Wait,
            Normal,
            Probe,
            Try,
            Over,
        }

        /// <summary>Requests admitted per <see cref="Window"/> as learned; null until the server first refused.</summary>
        public int? Budget
        {
            get
            {
                lock (_lock) return _budget == 0 ? null : _budget;
            }
        }

        /// <summary>The window the budget is counted over (the learned length plus a small margin); null until learned.</summary>
        public TimeSpan? Window
        {
            get
            {
                lock (_lock) return _budget == 0 ? null : WindowInUse;
            }
        }

        /// <summary>True while a refusal episode is being learned from (starts are held; single probes go out).</summary>
        public bool IsLearning
        {
            get
            {
                lock (_lock) return _learning;
            }
        }

        private TimeSpan Now => _time.GetElapsedTime(_origin);

        private TimeSpan WindowInUse => _windowHigh + Margin;

        /// <summary>What latency jitter may move a window's edge by (see <see cref="MinWindowMargin"/>).</summary>
        private TimeSpan Margin
        {
            get
            {
                var jitter = 2.0 * _durationDeviation.Ticks;
                return TimeSpan.FromTicks((long)Math.Min(_windowHigh.Ticks * MaxWindowMargin, Math.Max(_windowHigh.Ticks * MinWindowMargin, jitter)));
            }
        }

        /// <summary>
        /// Waits until an attempt may start, first come first served, and returns its slot; at once while nothing is
        /// paced. Cancellation ends the wait at once.
        /// </summary>
        public ValueTask<PacerSlot> WaitAsync(CancellationToken cancellationToken)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                return new ValueTask<PacerSlot>(Task.FromCanceled<PacerSlot>(cancellationToken));
            }

            Waiter waiter;
            lock (_lock)
            {
                var now = Now;
                if (_waiters.Count == 0)
                {
                    var kind = Decide(now, out _);
                    if (kind != Start.Wait)
                    {
                        return new ValueTask<PacerSlot>(Begin(kind, now));
                    }
                }

                waiter = new Waiter(this, cancellationToken);
                waiter.Node = _waiters.AddLast(waiter);
                if (_waiters.Count == 1) Arm(now);
            }

            return new ValueTask<PacerSlot>(cancellationToken.CanBeCanceled ? WaitCancellableAsync(waiter) : waiter.Task);
        }

        private static async Task<PacerSlot> WaitCancellableAsync(Waiter waiter)
        {
            // Registered here, disposed however the wait ends; a token already cancelled cancels at once.
            using (waiter.Token.Register(static state => ((Waiter)state!).Cancel(), waiter))
            {
                return await waiter.Task.ConfigureAwait(false);
            }
        }

        /// <summary>
        /// Starts an attempt now if the pacer allows it and nobody is waiting; else returns false and, in
        /// <paramref name="wait"/>, how long until it may (<see cref="Timeout.InfiniteTimeSpan"/> while a probe's answer is awaited).
        /// </summary>
        public bool TryStart(out PacerSlot slot, out TimeSpan wait)
        {
            lock (_lock)
            {
                var now = Now;
                slot = default;
                wait = TimeSpan.Zero;
                if (_waiters.Count > 0) return false;
                var kind = Decide(now, out var at);
                if (kind == Start.Wait)
                {
                    wait = at == Never ? Timeout.InfiniteTimeSpan : at - now;
                    return false;
                }

                slot = Begin(kind, now);
                return true;
            }
        }

        /// <summary>
        /// The attempt ended in any way but a rate-limit refusal (an answer, an error, a broken connection): it counts
        /// against the window as the server may have counted it.
        /// </summary>
        public void Completed(PacerSlot slot)
        {
            List<(Waiter, PacerSlot)>? granted;
            lock (_lock)
            {
                var now = Now;
                var sequence = slot.Sequence;
                if (!Remembered(sequence)) return;
                _outcomes[sequence % HistoryCapacity] = Outcome.Completed;
                Observe(now - StartOf(sequence));
                if (sequence == _probe)
                {
                    CloseEpisode(now, StartOf(sequence));
                }
                else if (sequence == _try)
                {
                    if (_tryWindow < _windowHigh) _windowHigh = _tryWindow;
                    _try = -1;
                }
                else if (sequence == _over)
                {
                    // The server took one more than the budget within the window: grow it, faster each time.
                    _over = -1;
                    _budget += _overStep;
                    _overStep = Math.Min(_overStep * 2, HistoryCapacity);
                    _overBackoff = FirstBudgetProbeWindows;
                    _overNextAt = now;
                    if (_budget >= HistoryCapacity) Forget();
                }
                else if (_learning && sequence < _episodeFirst)
                {
                    _completedInEpisode++;

                    // Started after the refused attempt and got through while nothing else was refused: the window
                    // was not full, the refusal was a stray one. Stop holding starts at once.
                    if (_refusedInEpisode > 1 || StartOf(sequence) <= _refusedAt) return;
                    _learning = false;
                    _probe = -1;
                    _settled = _next;
                }
                else
                {
                    return;
                }

                granted = Pump(now);
            }

            Grant(granted);
        }

        /// <summary>
        /// The server refused the attempt for rate (403 usage limits, 429), with the Retry-After it gave if any. Returns
        /// how long the pacer now holds starts (at least the Retry-After): the retry's delay.
        /// </summary>
        public TimeSpan Refused(PacerSlot slot, TimeSpan? retryAfter)
        {
            List<(Waiter, PacerSlot)>? granted;
            TimeSpan hold;
            lock (_lock)
            {
                var now = Now;
                var sequence = slot.Sequence;
                var remembered = Remembered(sequence);
                if (remembered)
                {
                    _outcomes[sequence % HistoryCapacity] = Outcome.Refused;
                    Observe(now - StartOf(sequence));
                }

                // The refused item waits at least its own Retry-After. Everyone waits for it (the shared pause) when
                // the refusal is not explained: it opens an episode, or a probe of one was refused. A refusal the pacer
                // asked for (a window try, a budget probe) or explains (an edge of the window) holds only its item;
                // nor do attempts of a burst refused after the first push the pause on, sent before it was known.
                var wait = retryAfter is TimeSpan ra && ra > TimeSpan.Zero ? ra : TimeSpan.Zero;
                var shared = false;
                if (!remembered)
                {
                    shared = true; // too old to reason about
                }
                else if (sequence == _try)
                {
                    // The window still held the attempt that had to leave it.
                    if (_tryWindow > _windowLow) _windowLow = _tryWindow;
                    _try = -1;
                    _relaxedAt = now;
                }
                else if (sequence == _over)
                {
                    // The budget is all the server takes: probe again later, and later each time.
                    _over = -1;
                    _overStep = 1;
                    _overNextAt = now + TimeSpan.FromTicks(WindowInUse.Ticks * _overBackoff);
                    _overBackoff = Math.Min(_overBackoff * 2, MaxProbeBackoffWindows);
                }
                else if (_learning)
                {
                    _refusedInEpisode++;
                    if (wait > _retryAfter) _retryAfter = wait;
                    var started = StartOf(sequence);
                    if (started > _lastRefused) _lastRefused = started;
                    if (sequence == _probe)
                    {
                        shared = true;
                        _probe = -1;
                        var gap = TimeSpan.FromTicks((long)((now - _refusedAt).Ticks * ProbeGrowth));
                        _nextProbe = now + (gap > MinProbeGap ? gap : MinProbeGap);
                    }
                }
                else if (sequence >= _settled && !WidenAtEdge(sequence, now))
                {
                    shared = true;
                    OpenEpisode(sequence, now, wait);
                }

                if (shared && now + wait > _pauseUntil) _pauseUntil = now + wait;
                hold = (_learning && _nextProbe > _pauseUntil ? _nextProbe : _pauseUntil) - now;
                if (hold < wait) hold = wait;
                granted = Pump(now);
            }

            Grant(granted);
            return hold > TimeSpan.Zero ? hold : TimeSpan.Zero;
        }

        public override string ToString()
        {
            lock (_lock)
            {
                return _budget == 0
                    ? (_learning ? "learning" : "not paced")
                    : $"{_budget} per {WindowInUse.TotalSeconds:0.###} s (window {_windowLow.TotalSeconds:0.###}–{_windowHigh.TotalSeconds:0.###} s){(_learning ? ", learning" : string.Empty)}";
            }
        }

        /// <summary>What the head of the queue may do now; <paramref name="at"/> is when to ask again (Never: on a change).</summary>
        private Start Decide(TimeSpan now, out TimeSpan at)
        {
            at = now;
            if (now < _pauseUntil)
            {
                at = _pauseUntil;
                return Start.Wait;
            }

            if (_learning)
            {
                if (_probe >= 0)
                {
                    at = Never;
                    return Start.Wait;
                }

                if (now < _nextProbe)
                {
                    at = _nextProbe;
                    return Start.Wait;
                }

                return Start.Probe;
            }

            if (_budget == 0) return Start.Normal;
            var leaving = NthNewestCounted(_budget);   // the attempt that must leave the window first
            if (leaving == TimeSpan.MinValue || leaving + WindowInUse <= now) return Start.Normal;

            at = leaving + WindowInUse;
            if (_try >= 0 || _over >= 0) return Start.Wait; // one experiment at a time
            var margin = Margin;

            if (_windowHigh - _windowLow > TimeSpan.FromTicks(Math.Max((long)(_windowHigh.Ticks * WindowPrecision), margin.Ticks)))
            {
                // An attempt admitted now would show the window to be at most now - leaving; try once that is a
                // quarter of the way up from what is known (a Retry-After, the usual lower bound, tends to be close),
                // but not within the jitter of the lower bound, where a refusal would say nothing.
                var quarter = _windowLow + TimeSpan.FromTicks(Math.Max((_windowHigh - _windowLow).Ticks / 4, margin.Ticks));
                var shows = now - leaving;
                if (shows >= quarter && shows < _windowHigh)
                {
                    _tryWindow = shows;
                    return Start.Try;
                }

                if (leaving + quarter > now && leaving + quarter < at) at = leaving + quarter;
            }

            // A budget probe: the window is full even if it is as short as it may be, so an attempt admitted now
            // shows the server takes more than the budget (a limit raised, or learned while others shared it). The
            // budget's attempts are that close together only in a burst, as when a command starts.
            if (now >= _overNextAt && leaving + _windowLow - margin > now) return Start.Over;
            if (_overNextAt > now && _overNextAt < at) at = _overNextAt;
            return Start.Wait;
        }

        /// <summary>The start of the <paramref name="n"/>th newest attempt that counts (not refused), or MinValue.</summary>
        private TimeSpan NthNewestCounted(int n)
        {
            var counted = 0;
            var oldest = Math.Max(0, _next - HistoryCapacity);
            for (var i = _next - 1; i >= oldest; i--)
            {
                if (_outcomes[i % HistoryCapacity] == Outcome.Refused) continue;
                if (++counted == n) return StartOf(i);
            }

            return TimeSpan.MinValue;
        }

        private PacerSlot Begin(Start kind, TimeSpan now)
        {
            var sequence = _next++;
            _starts[sequence % HistoryCapacity] = now.Ticks;
            _outcomes[sequence % HistoryCapacity] = Outcome.Pending;
            if (kind == Start.Probe) _probe = sequence;
            else if (kind == Start.Try) _try = sequence;
            else if (kind == Start.Over) _over = sequence;
            if (_budget != 0 && kind == Start.Normal && (sequence == 0 || StartOf(sequence - 1) + WindowInUse <= now))
            {
                // The first attempt into an empty window (a new command, after a pause): budget probes may go at once,
                // unless the budget was learned only a few windows ago.
                _overStep = 1;
                _overBackoff = FirstBudgetProbeWindows;
                var settled = _learnedAt + TimeSpan.FromTicks(WindowInUse.Ticks * FirstBudgetProbeWindows);
                _overNextAt = settled > now ? settled : now;
            }

            if (_budget != 0 && !_learning && _windowLow > _fitLow && now - _relaxedAt >= WindowInUse)
            {
                // A window without a refusal: the lower bound, raised by a refusal that jitter may have caused (an
                // attempt held up on its way), moves halfway back to what the last episode established, so that
                // bisection tests it again.
                _windowLow -= TimeSpan.FromTicks((_windowLow - _fitLow).Ticks / 2);
                _relaxedAt = now;
            }

            return new PacerSlot(sequence);
        }

        /// <summary>
        /// A refusal of an attempt that started right after the window in use let it: with a slightly longer window the
        /// budget would have been spent. The window may be longer than thought; widen it and let bisection find it again.
        /// </summary>
        private bool WidenAtEdge(long sequence, TimeSpan now)
        {
            if (_budget == 0) return false;
            var started = StartOf(sequence);
            var counted = 0;
            var oldest = Math.Max(0, _next - HistoryCapacity);
            var reach = TimeSpan.FromTicks((long)(WindowInUse.Ticks * 1.1));
            for (var n = sequence - 1; n >= oldest; n--)
            {
                var start = StartOf(n);
                if (start <= started - reach) return false;
                if (_outcomes[n % HistoryCapacity] == Outcome.Refused) continue;
                if (++counted == _budget)
                {
                    // The window still held this attempt, or jitter made it seem so (an attempt held up on its way):
                    // make the window in use cover it, but leave the lower bound to bisection, whose tries a longer
                    // window refuses at the cost of one item's Retry-After.
                    var shortest = started - start;
                    var step = TimeSpan.FromTicks(Math.Max(Margin.Ticks, (long)(shortest.Ticks * WindowPrecision)));
                    if (shortest + step > _windowHigh) _windowHigh = shortest + step;
                    return true;
                }
            }

            return false;
        }

        private void OpenEpisode(long sequence, TimeSpan now, TimeSpan retryAfter)
        {
            _learning = true;
            _refusedAt = StartOf(sequence);
            _lastRefused = _refusedAt;
            _retryAfter = retryAfter;
            _episodeFirst = _next;
            _probe = -1;
            _try = -1;
            _over = -1;
            _refusedInEpisode = 1;
            _completedInEpisode = 0;
            _nextProbe = now + MinProbeGap;
        }

        /// <summary>A probe got through at <paramref name="admittedAt"/>: learn from the episode unless it was noise.</summary>
        private void CloseEpisode(TimeSpan now, TimeSpan admittedAt)
        {
            _learning = false;
            _probe = -1;
            _settled = _next;
            _relaxedAt = now;
            if (_refusedInEpisode < 2 || _refusedInEpisode <= _completedInEpisode)
            {
                return; // one refusal among answers: a stray 429, not a full window
            }

            var floor = _retryAfter > _windowLow ? _retryAfter : _windowLow;
            if (!Fit(admittedAt, floor) && !Fit(admittedAt, _retryAfter))
            {
                // Nothing a sliding window explains (a token bucket, a limit shared with others): pace at what got
                // through over twice the episode; if nothing got through before the refusal, there is nothing to learn.
                var window = TimeSpan.FromTicks(Math.Max(MinProbeGap.Ticks, 2 * (admittedAt - _refusedAt).Ticks));
                var admitted = CountCompleted(_refusedAt - window, _refusedAt);
                if (admitted == 0) return;
                _budget = admitted;
                _windowLow = window;
                _windowHigh = window;
                _fitLow = window;
            }

            // Budget probes start again from the first step, a few windows from now.
            _learnedAt = now;
            _overStep = 1;
            _overBackoff = FirstBudgetProbeWindows;
            _overNextAt = now + TimeSpan.FromTicks(WindowInUse.Ticks * FirstBudgetProbeWindows);
        }

        /// <summary>
        /// The shortest sliding window that explains the episode: for the newest attempt <c>a</c> (started before the
        /// refusal) that can be the oldest one inside the window, the window held <c>a</c> when the last refused
        /// attempt started and had dropped it when the probe was admitted; the budget is what got through from
        /// <c>a</c> on (in flight at the refusal included), and under that window and budget no earlier admission would
        /// have been refused.
        /// </summary>
        private bool Fit(TimeSpan admittedAt, TimeSpan floor)
        {
            // The attempts that got through before the episode, oldest first.
            var oldest = Math.Max(0, _next - HistoryCapacity);
            var admitted = new List<TimeSpan>();
            for (var n = oldest; n < _episodeFirst; n++)
            {
                if (_outcomes[n % HistoryCapacity] != Outcome.Refused) admitted.Add(StartOf(n));
            }

            for (var i = admitted.Count - 1; i >= 0; i--)
            {
                var inside = admitted[i];
                if (inside >= _refusedAt) continue;
                var low = _lastRefused - inside;           // still inside when the last refused attempt started
                if (floor > low) low = floor;
                var high = admittedAt - inside;            // gone when the probe was admitted
                if (i > 0 && _refusedAt - admitted[i - 1] < high) high = _refusedAt - admitted[i - 1]; // the one before was gone
                var budget = admitted.Count - i;
                if (low <= TimeSpan.Zero || low > high || !Admits(admitted, inside - low, low, budget)) continue;
                _budget = Math.Min(HistoryCapacity, budget);
                _windowLow = low;
                _windowHigh = high;
                _fitLow = low;
                return true;
            }

            return false;
        }

        /// <summary>
        /// True when no admission in <paramref name="starts"/> since <paramref name="since"/> found <paramref name="budget"/>
        /// others within <paramref name="window"/> before it. (Older history may predate a change of the limit.)
        /// </summary>
        private static bool Admits(List<TimeSpan> starts, TimeSpan since, TimeSpan window, int budget)
        {
            var first = 0;
            for (var j = 0; j < starts.Count; j++)
            {
                while (starts[first] <= starts[j] - window) first++;
                if (starts[j] >= since && j - first >= budget) return false;
            }

            return true;
        }

        /// <summary>Budget probes grew the budget past what the pacer can hold: whatever limit there is, it is not paced.</summary>
        private void Forget()
        {
            _budget = 0;
            _windowLow = _windowHigh = _fitLow = TimeSpan.Zero;
            _try = _over = -1;
        }

        private int CountCompleted(TimeSpan from, TimeSpan until)
        {
            var count = 0;
            var oldest = Math.Max(0, _next - HistoryCapacity);
            for (var n = _next - 1; n >= oldest; n--)
            {
                var start = StartOf(n);
                if (start < from) break;
                if (start < until && _outcomes[n % HistoryCapacity] != Outcome.Refused) count++;
            }

            return count;
        }

        private void Observe(TimeSpan duration)
        {
            if (_durationDeviation == TimeSpan.MaxValue)
            {
                _durationMean = duration;
                _durationDeviation = TimeSpan.FromTicks(duration.Ticks / 4); // cautious until there is more to go by
                return;
            }

            var deviation = Math.Abs((duration - _durationMean).Ticks);
            _durationMean += TimeSpan.FromTicks((duration - _durationMean).Ticks / 16);
            _durationDeviation += TimeSpan.FromTicks((deviation - _durationDeviation.Ticks) / 16);
        }

        private bool Remembered(long sequence) => sequence >= 0 && sequence < _next && sequence >= _next - HistoryCapacity;

        private TimeSpan StartOf(long sequence) => TimeSpan.FromTicks(_starts[sequence % HistoryCapacity]);

        /// <summary>Lets waiting attempts start, in order, while the pacer allows; arms the timer for the next one.</summary>
        private List<(Waiter, PacerSlot)>? Pump(TimeSpan now)
        {
            List<(Waiter, PacerSlot)>? granted = null;
            while (_waiters.First is LinkedListNode<Waiter> head)
            {
                var kind = Decide(now, out _);
                if (kind == Start.Wait) break;
                _waiters.RemoveFirst();
                head.Value.Node = null;
                (granted ??= new List<(Waiter, PacerSlot)>()).Add((head.Value, Begin(kind, now)));
            }

            Arm(now);
            return granted;
        }

        private void Arm(TimeSpan now)
        {
            var due = Never;
            if (_waiters.Count > 0 && Decide(now, out var at) == Start.Wait) due = at;
            if (due == _timerDue) return;
            _timerDue = due;
            if (due == Never)
            {
                _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                return;
            }

            var delay = due - now;
            if (delay < TimeSpan.FromMilliseconds(1)) delay = TimeSpan.FromMilliseconds(1);
            _timer ??= _time.CreateTimer(static state => ((RateLimitPacer)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _timer.Change(delay, Timeout.InfiniteTimeSpan);
        }

        private void OnTimer()
        {
            List<(Waiter, PacerSlot)>? granted;
            lock (_lock)
            {
                _timerDue = Never;
                granted = Pump(Now);
            }

            Grant(granted);
        }

        private void Cancel(Waiter waiter)
        {
            List<(Waiter, PacerSlot)>? granted;
            lock (_lock)
            {
                if (waiter.Node is null) return; // already granted
                _waiters.Remove(waiter.Node);
                waiter.Node = null;
                granted = Pump(Now);
            }

            waiter.TrySetCanceled(waiter.Token);
            Grant(granted);
        }

        private static void Grant(List<(Waiter Waiter, PacerSlot Slot)>? granted)
        {
            if (granted is null) return;
            foreach (var (waiter, slot) in granted) waiter.TrySetResult(slot);
        }

        private static class Outcome
        {
            public const byte Pending = 0;
            public const byte Completed = 1;
            public const byte Refused = 2;
        }

        private sealed class Waiter : TaskCompletionSource<PacerSlot>
        {
            private readonly RateLimitPacer _owner;

            public Waiter(RateLimitPacer owner, CancellationToken token)
                : base(TaskCreationOptions.RunContinuationsAsynchronously)
            {
                _owner = owner;
                Token = token;
            }

            /// <summary>Its place in the queue; null once granted or cancelled.</summary>
            public LinkedListNode<Waiter>? Node { get; set; }

            public CancellationToken Token { get; }

            public void Cancel() => _owner.Cancel(this);
        }
    }
}
