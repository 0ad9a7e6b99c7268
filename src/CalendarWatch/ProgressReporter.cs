using System;
using System.Management.Automation;
using CalendarWatch.Engine;

namespace CalendarWatch
{
    /// <summary>
    /// Write-Progress for a command that works through many items: "N of TOTAL" when the total is known up front, else
    /// "N done", at most every 200 ms, nothing at all when $ProgressPreference is SilentlyContinue or Ignore, and
    /// never once the command is stopping. Pipeline thread only.
    /// </summary>
    internal sealed class ProgressReporter
    {
        private const int ActivityIdBase = 0x4357_0000; // "CW"

        private readonly PSCmdlet _cmdlet;
        private readonly string _activity;
        private readonly ProgressCounter _counter;
        private readonly bool _wanted;
        private bool _shown;
        private bool _off;

        public ProgressReporter(PSCmdlet cmdlet, string activity, long? total)
        {
            _cmdlet = cmdlet;
            _activity = activity;
            _counter = new ProgressCounter(total);
            _wanted = Wanted(cmdlet);
        }

        /// <summary>One more item finished (written, failed or skipped); reports when a report is due.</summary>
        public void ItemDone()
        {
            _counter.Add();
        }

        /// <summary>Reports the counts when a report is due.</summary>
        public void Report() => Write(final: false);

        /// <summary>Closes the bar (only when one was shown).</summary>
        public void Finish() => Write(final: true);

        private void Write(bool final)
        {
            if (!_wanted || _off || (final ? !_shown : !_counter.TryReport()))
            {
                return;
            }

            var record = new ProgressRecord(ActivityIdBase + Math.Max(0, _cmdlet.MyInvocation.PipelinePosition), _activity, _counter.StatusText)
            {
                PercentComplete = _counter.PercentComplete,
                RecordType = final ? ProgressRecordType.Completed : ProgressRecordType.Processing,
            };
            try
            {
                _cmdlet.WriteProgress(record);
                _shown = true;
            }
            catch (PipelineStoppedException)
            {
                _off = true; // the stop itself is handled by the command
            }
        }

        /// <summary>False when $ProgressPreference is SilentlyContinue or Ignore: then no record is even built.</summary>
        private static bool Wanted(PSCmdlet cmdlet)
        {
            var value = cmdlet.GetVariableValue("ProgressPreference");
            if (value is ActionPreference preference)
            {
                return preference != ActionPreference.SilentlyContinue && preference != ActionPreference.Ignore;
            }

            var text = value?.ToString();
            if (!string.IsNullOrEmpty(text) && Enum.TryParse<ActionPreference>(text, ignoreCase: true, out var parsed))
            {
                return parsed != ActionPreference.SilentlyContinue && parsed != ActionPreference.Ignore;
            }

            return true;
        }
    }
}
