using System;
using System.IO;
using System.Reflection;
using Xunit;

namespace CalendarWatch.Tests
{
    public sealed class SmokeTests
    {
        [Theory]
        [InlineData("CalendarWatch.Engine.dll")]
        [InlineData("CalendarWatch.dll")]
        [InlineData("CalendarWatch.Emulator.dll")]
        public void ManifestVersionReachesTheAssemblies(string assembly)
        {
            var manifest = Repository.ModuleVersion();
            var expected = new Version(manifest.Major, manifest.Minor, Math.Max(manifest.Build, 0), Math.Max(manifest.Revision, 0));

            // Read from the file, not loaded: the cmdlet assembly needs System.Management.Automation, which tests lack.
            Assert.Equal(expected, AssemblyName.GetAssemblyName(Path.Combine(AppContext.BaseDirectory, assembly)).Version);
        }
    }
}
