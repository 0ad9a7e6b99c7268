using System.Management.Automation;

namespace CalendarWatch.Commands
{
    /// <summary>
    /// Stop-CalendarWatchEmulator: stops each emulator piped in or given, or, with none, every emulator this PowerShell
    /// process started. Its port is free again at once; stopping a stopped emulator does nothing.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Stop, "CalendarWatchEmulator", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, HelpUri = HelpLinks.Base + "Stop-CalendarWatchEmulator.md")]
    [OutputType(typeof(void))]
    public sealed class StopCalendarWatchEmulatorCommand : PSCmdlet
    {
        private bool _anyBound;

        [Parameter(Position = 0, ValueFromPipeline = true, HelpMessage = "The emulator(s) Start-CalendarWatchEmulator returned; none: every emulator this process started.")]
        public LocalEmulator[]? Emulator { get; set; }

        protected override void ProcessRecord()
        {
            if (Emulator is null)
            {
                return;
            }

            _anyBound = true;
            foreach (var emulator in Emulator)
            {
                if (emulator != null)
                {
                    StopOne(emulator);
                }
            }
        }

        protected override void EndProcessing()
        {
            if (_anyBound || MyInvocation.ExpectingInput)
            {
                return;
            }

            foreach (var emulator in LocalEmulator.AllRunning())
            {
                StopOne(emulator);
            }
        }

        private void StopOne(LocalEmulator emulator)
        {
            if (!emulator.IsRunning)
            {
                WriteVerbose($"The emulator at {emulator} was already stopped.");
                return;
            }

            if (ShouldProcess(emulator.ToString(), "Stop the CalendarWatch emulator"))
            {
                emulator.Stop();
                WriteVerbose($"Stopped the emulator at {emulator}.");
            }
        }
    }
}
