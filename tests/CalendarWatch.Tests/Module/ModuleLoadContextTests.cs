using System;
using System.IO;
using System.Runtime.InteropServices;
using CalendarWatch.LoadContext;
using Xunit;

namespace CalendarWatch.Tests.Module
{
    /// <summary>
    /// The PowerShell 7 loader's own rules. That the module really loads in its context, beside other copies of its
    /// dependencies, is proven in PowerShell by tests/Isolation.Tests.ps1.
    /// </summary>
    public sealed class ModuleLoadContextTests : IDisposable
    {
        private readonly string _folder = Path.Combine(Path.GetTempPath(), "CalendarWatch.LoadContextTests." + Guid.NewGuid().ToString("N"));
        private readonly string _mainAssembly;

        public ModuleLoadContextTests()
        {
            Directory.CreateDirectory(_folder);
            _mainAssembly = Path.Combine(_folder, "CalendarWatch.dll");
            File.Copy(typeof(ModuleLoadContext).Assembly.Location, _mainAssembly);
        }

        public void Dispose()
        {
            try
            {
                Directory.Delete(_folder, recursive: true);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                // Windows keeps a loaded assembly's file open for the life of its (non-collectible) context.
            }
        }

        [Theory]
        [InlineData("System.Management.Automation", true)]
        [InlineData("Microsoft.PowerShell.Commands.Utility", true)]
        [InlineData("Microsoft.Management.Infrastructure", true)]
        [InlineData("CalendarWatch.LoadContext", true)]
        [InlineData("CalendarWatch", false)]
        [InlineData("CalendarWatch.Engine", false)]
        [InlineData("Google.Apis.Auth", false)]
        [InlineData("Newtonsoft.Json", false)]
        [InlineData("Polly.Core", false)]
        public void SharesOnlyPowerShellAndTheLoaderWithTheDefaultContext(string name, bool shared)
        {
            Assert.Equal(shared, ModuleLoadContext.IsSharedWithPowerShell(name));
        }

        [Fact]
        public void FindsABundledNativeLibraryUnderRuntimesRidNativeByItsPlatformFileName()
        {
            var native = Path.Combine(_folder, "runtimes", RuntimeInformation.RuntimeIdentifier, "native");
            Directory.CreateDirectory(native);
            var file = Path.Combine(native, PlatformFileName("e_sqlite3"));
            File.WriteAllBytes(file, Array.Empty<byte>());

            var context = new ModuleLoadContext(_mainAssembly);

            Assert.Equal(file, context.FindNativeLibrary("e_sqlite3"));
            Assert.Null(context.FindNativeLibrary("not_bundled"));
        }

        [Fact]
        public void FindsANativeLibraryUnderThePortableRidAndInTheModuleFolder()
        {
            var os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
            var portable = Path.Combine(_folder, "runtimes", os + "-" + RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant(), "native");
            Directory.CreateDirectory(portable);
            var inRuntimes = Path.Combine(portable, PlatformFileName("first"));
            var inFolder = Path.Combine(_folder, PlatformFileName("second"));
            File.WriteAllBytes(inRuntimes, Array.Empty<byte>());
            File.WriteAllBytes(inFolder, Array.Empty<byte>());

            var context = new ModuleLoadContext(_mainAssembly);

            Assert.Equal(inRuntimes, context.FindNativeLibrary("first"));
            Assert.Equal(inFolder, context.FindNativeLibrary("second"));
        }

        [Fact]
        public void LoadCmdletAssemblyGivesTheSameAssemblyForThePathEveryTime()
        {
            var first = ModuleLoadContext.LoadCmdletAssembly(_mainAssembly);
            var second = ModuleLoadContext.LoadCmdletAssembly(_mainAssembly);

            Assert.Same(first, second);
            Assert.Equal("CalendarWatch", System.Runtime.Loader.AssemblyLoadContext.GetLoadContext(first)?.Name);
            Assert.NotSame(typeof(ModuleLoadContext).Assembly, first);
        }

        private static string PlatformFileName(string name) =>
            OperatingSystem.IsWindows() ? name + ".dll" : OperatingSystem.IsMacOS() ? "lib" + name + ".dylib" : "lib" + name + ".so";
    }
}
