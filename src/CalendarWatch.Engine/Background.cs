using System;
using System.Threading;
using System.Threading.Tasks;

namespace CalendarWatch.Engine
{
    /// <summary>Work nobody waits for, such as the token prefetch and the warm-up that Connect-CalendarWatch starts.</summary>
    internal static class Background
    {
        /// <summary>
        /// Runs <paramref name="work"/> on the thread pool without the caller's execution context (its AsyncLocals, such as
        /// a command's -Debug sink), whether or not the caller has already suppressed its flow. Its failure is forgotten:
        /// the returned task never faults, and whoever needs the work's result does it again and reports what went wrong.
        /// </summary>
        public static Task Run(Func<Task> work)
        {
            if (work is null) throw new ArgumentNullException(nameof(work));
            if (ExecutionContext.IsFlowSuppressed()) return Task.Run(() => QuietlyAsync(work));
            using (ExecutionContext.SuppressFlow())
            {
                return Task.Run(() => QuietlyAsync(work));
            }
        }

        private static async Task QuietlyAsync(Func<Task> work)
        {
            try
            {
                await work().ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Forgotten on purpose (see Run).
            }
        }
    }
}
