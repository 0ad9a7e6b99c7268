#if !NETFRAMEWORK
using System.Management.Automation;
using CalendarWatch.Engine;

namespace CalendarWatch
{
    /// <summary>
    /// PowerShell 7: starts <see cref="Warmup"/> as the module is imported, so that the first watch of a process does not
    /// build the retry pipeline on its own path (Windows PowerShell 5.1 starts it from <see cref="DesktopAssemblyResolver"/>).
    /// </summary>
    public sealed class ModuleWarmup : IModuleAssemblyInitializer
    {
        public void OnImport() => Warmup.Start();
    }
}
#endif
