#if NETFRAMEWORK
using System;
using System.IO;
using System.Management.Automation;
using System.Reflection;

namespace CalendarWatch
{
    /// <summary>
    /// Windows PowerShell 5.1 only: the module's dependencies (System.Text.Json, System.Memory, Google.Apis.*, Polly)
    /// reference each other at versions that differ from the files shipped beside them, and powershell.exe has no
    /// binding redirects for a module. When .NET cannot bind such a reference, this resolver answers with the copy in
    /// the module's own bin folder, whatever its version. PowerShell 7 needs none of this (its isolation is separate).
    /// </summary>
    public sealed class DesktopAssemblyResolver : IModuleAssemblyInitializer, IModuleAssemblyCleanup
    {
        private static readonly string Folder = Path.GetDirectoryName(typeof(DesktopAssemblyResolver).Assembly.Location) ?? string.Empty;

        public void OnImport()
        {
            AppDomain.CurrentDomain.AssemblyResolve -= Resolve;
            AppDomain.CurrentDomain.AssemblyResolve += Resolve;
        }

        public void OnRemove(PSModuleInfo psModuleInfo) => AppDomain.CurrentDomain.AssemblyResolve -= Resolve;

        private static Assembly? Resolve(object? sender, ResolveEventArgs args)
        {
            var name = new AssemblyName(args.Name).Name;
            if (string.IsNullOrEmpty(name))
            {
                return null;
            }

            var path = Path.Combine(Folder, name + ".dll");
            return File.Exists(path) ? Assembly.LoadFrom(path) : null;
        }
    }
}
#endif
