using System;
using Xunit;

namespace CalendarWatch.Tests.Auth
{
    /// <summary>A fact about Unix file types (FIFOs, devices, sockets), which Windows paths do not have.</summary>
    public sealed class UnixFactAttribute : FactAttribute
    {
        public UnixFactAttribute()
        {
            if (OperatingSystem.IsWindows())
            {
                Skip = "FIFOs, /dev/zero and Unix domain sockets exist on Unix only.";
            }
        }
    }
}
