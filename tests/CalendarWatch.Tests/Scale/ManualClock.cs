using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace CalendarWatch.Tests.Scale
{
    /// <summary>
    /// A clock that moves only when told, with timers that fire when it is moved past them: decisions that depend on
    /// time become a function of the test's inputs.
    /// </summary>
    internal sealed class ManualClock : TimeProvider
    {
        private readonly List<ManualTimer> _timers = new List<ManualTimer>();

        public TimeSpan Now { get; set; }

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Now.Ticks;

        /// <summary>Moves the clock on and fires, in order, every timer that falls due.</summary>
        public void Advance(TimeSpan by)
        {
            var until = Now + by;
            while (true)
            {
                ManualTimer? next;
                lock (_timers) next = _timers.Where(t => t.Due <= until).OrderBy(t => t.Due).FirstOrDefault();
                if (next is null) break;
                if (next.Due > Now) Now = next.Due;
                next.Fire();
            }

            Now = until;
        }

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = new ManualTimer(this, callback, state);
            timer.Change(dueTime, period);
            return timer;
        }

        private sealed class ManualTimer : ITimer
        {
            private readonly ManualClock _clock;
            private readonly TimerCallback _callback;
            private readonly object? _state;

            public ManualTimer(ManualClock clock, TimerCallback callback, object? state)
            {
                _clock = clock;
                _callback = callback;
                _state = state;
            }

            public TimeSpan Due { get; private set; }

            public bool Change(TimeSpan dueTime, TimeSpan period)
            {
                lock (_clock._timers)
                {
                    _clock._timers.Remove(this);
                    if (dueTime == Timeout.InfiniteTimeSpan) return true;
                    Due = _clock.Now + dueTime;
                    _clock._timers.Add(this);
                }

                return true;
            }

            public void Fire()
            {
                lock (_clock._timers) _clock._timers.Remove(this);
                _callback(_state);
            }

            public void Dispose()
            {
                lock (_clock._timers) _clock._timers.Remove(this);
            }

            public ValueTask DisposeAsync()
            {
                Dispose();
                return default;
            }
        }
    }
}
