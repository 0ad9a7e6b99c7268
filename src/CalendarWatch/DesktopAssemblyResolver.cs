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
    /// the module's own bin folder, whatever its version. PowerShell 7 needs none of this: there the module and its
    /// dependencies load into a private AssemblyLoadContext (src/CalendarWatch.LoadContext).
    /// </summary>
    /// <remarks>
    /// It answers only binds that CalendarWatch's own assemblies or the dependencies it bundles ask for: the requesting
    /// assembly was loaded from this folder. Every other failed bind in the AppDomain (another module's, PowerShell's,
    /// or one without a requesting assembly, such as Assembly.Load by name) is left to .NET and to other handlers, so
    /// that another module asking for, say, Newtonsoft.Json never silently gets this module's copy.
    /// </remarks>
    public sealed class DesktopAssemblyResolver : IModuleAssemblyInitializer, IModuleAssemblyCleanup
    {
        private static readonly string Folder = Path.GetDirectoryName(typeof(DesktopAssemblyResolver).Assembly.Location) ?? string.Empty;

        public void OnImport()
        {
            AppDomain.CurrentDomain.AssemblyResolve -= Resolve;
            AppDomain.CurrentDomain.AssemblyResolve += Resolve;
            LoadNativeSqlite();
        }

        /// <summary>
        /// The channel record's native SQLite: SQLitePCLRaw calls "e_sqlite3" through DllImport, which Windows resolves
        /// to a module already loaded under that name. So load bin\net472\runtimes\win-ARCH\native\e_sqlite3.dll by full
        /// path first (nothing else would find it there). A failure is left to the first use of the record, which says
        /// CalendarWatch.StoreUnavailable.
        /// </summary>
        private static void LoadNativeSqlite()
        {
            string architecture;
            switch (System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture)
            {
                case System.Runtime.InteropServices.Architecture.X64: architecture = "win-x64"; break;
                case System.Runtime.InteropServices.Architecture.X86: architecture = "win-x86"; break;
                case System.Runtime.InteropServices.Architecture.Arm64: architecture = "win-arm64"; break;
                default: return;
            }

            var path = Path.Combine(Folder, "runtimes", architecture, "native", "e_sqlite3.dll");
            if (File.Exists(path))
            {
                _ = LoadLibraryW(path);
            }
        }

        [System.Runtime.InteropServices.DllImport("kernel32.dll", CharSet = System.Runtime.InteropServices.CharSet.Unicode, SetLastError = true)]
        private static extern IntPtr LoadLibraryW(string path);

        public void OnRemove(PSModuleInfo psModuleInfo) => AppDomain.CurrentDomain.AssemblyResolve -= Resolve;

        private static Assembly? Resolve(object? sender, ResolveEventArgs args)
        {
            if (!IsFromThisFolder(args.RequestingAssembly))
            {
                return null;
            }

            var name = new AssemblyName(args.Name).Name;
            if (string.IsNullOrEmpty(name))
            {
                return null;
            }

            var path = Path.Combine(Folder, name + ".dll");
            if (!File.Exists(path))
            {
                // The emulator (Start-CalendarWatchEmulator) is an executable on net472: CalendarWatch.Emulator.exe.
                path = Path.Combine(Folder, name + ".exe");
            }

            return File.Exists(path) ? Assembly.LoadFrom(path) : null;
        }

        private static bool IsFromThisFolder(Assembly? requesting)
        {
            // A dynamic assembly has no file (its Location throws on .NET Framework); one loaded from bytes has "".
            if (requesting is null || requesting.IsDynamic || Folder.Length == 0)
            {
                return false;
            }

            var location = requesting.Location;
            return !string.IsNullOrEmpty(location)
                && string.Equals(Path.GetDirectoryName(location), Folder, StringComparison.OrdinalIgnoreCase);
        }
    }
}
#endif
