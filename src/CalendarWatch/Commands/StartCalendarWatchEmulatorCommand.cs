using System;
using System.Collections;
using System.Management.Automation;
using System.Net;
using CalendarWatch.Emulator;

namespace CalendarWatch.Commands
{
    /// <summary>
    /// Start-CalendarWatchEmulator: starts the local Calendar push emulator inside this PowerShell process (it ships in the
    /// module; nothing else is needed) with the options of its command line, and writes a <see cref="LocalEmulator"/>
    /// that Connect-CalendarWatch -Emulator takes and that tests drive through its methods.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Start, "CalendarWatchEmulator", HelpUri = HelpLinks.Base + "Start-CalendarWatchEmulator.md")]
    [OutputType(typeof(LocalEmulator))]
    public sealed class StartCalendarWatchEmulatorCommand : PSCmdlet
    {
        [Parameter(HelpMessage = "TCP port on 127.0.0.1; 0 (the default) picks a free port.")]
        [ValidateRange(0, 65535)]
        public int Port { get; set; }

        [Parameter(HelpMessage = "Accept any bearer token or none; the caller is always user@example.com. Connect-CalendarWatch -Emulator needs it.")]
        public SwitchParameter NoAuth { get; set; }

        [Parameter(HelpMessage = "Accept http:// channel addresses (local receivers have no certificates); otherwise only https://.")]
        public SwitchParameter AllowHttp { get; set; }

        [Parameter(HelpMessage = "Added latency per API request in milliseconds, 0 to 600000 (the starting value of the latency knob).")]
        [ValidateRange(0, 600000)]
        public int LatencyMs { get; set; }

        [Parameter(HelpMessage = "Longest channel lifetime in days (default 30); longer requests are silently shortened.")]
        [ValidateRange(0.000001, 3650.0)]
        public double MaxLifetimeDays { get; set; } = 30;

        [Parameter(HelpMessage = "Fault knobs in force from the start, e.g. @{ Error503Rate = 0.1; UserRateLimit = 5 }.")]
        public IDictionary? Fault { get; set; }

        protected override void EndProcessing()
        {
            EmulatorFaults faults;
            try
            {
                faults = LocalEmulator.ToFaults(Fault);
            }
            catch (ArgumentException ex)
            {
                ThrowTerminatingError(ErrorRecords.InvalidArgument("CalendarWatch.InvalidEmulatorFault", ex, Fault));
                return;
            }

            var options = new EmulatorOptions
            {
                Port = Port,
                NoAuth = NoAuth.IsPresent,
                AllowHttp = AllowHttp.IsPresent,
                MaxChannelLifetime = TimeSpan.FromDays(MaxLifetimeDays),
                Faults = faults,
            };
            if (LatencyMs > 0 && faults.Latency == TimeSpan.Zero)
            {
                options.Latency = TimeSpan.FromMilliseconds(LatencyMs);
            }

            CalendarEmulator emulator;
            try
            {
                emulator = CalendarEmulator.StartAsync(options).GetAwaiter().GetResult();
            }
            catch (ArgumentException ex)
            {
                ThrowTerminatingError(ErrorRecords.InvalidArgument("CalendarWatch.InvalidEmulatorFault",
                    new ArgumentException("A fault knob is out of range: " + ex.Message, ex), Fault));
                return;
            }
            catch (HttpListenerException ex)
            {
                var message = Port == 0
                    ? "The emulator could not listen on a free loopback port: " + ex.Message
                    : $"The emulator could not listen on 127.0.0.1:{Port} ({ex.Message}). Another program may hold the port: pick another -Port, or leave -Port out for a free one.";
                ThrowTerminatingError(new ErrorRecord(new InvalidOperationException(message, ex), "CalendarWatch.EmulatorPortUnavailable", ErrorCategory.ResourceUnavailable, Port));
                return;
            }

            var local = new LocalEmulator(emulator, NoAuth.IsPresent, AllowHttp.IsPresent);
            WriteVerbose($"Emulator listening on {local.Address} ({(NoAuth ? "no auth" : "auth")}, {(AllowHttp ? "http and https" : "https only")} channel addresses).");
            WriteObject(local);
        }
    }
}
