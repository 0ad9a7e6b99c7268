using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace CalendarWatch.LoadContext
{
    /// <summary>
    /// PowerShell 7: the private AssemblyLoadContext that CalendarWatch.dll, CalendarWatch.Engine.dll and every
    /// dependency they bundle (Google.Apis.*, Newtonsoft.Json, Polly.Core, System.Management, native libraries) load
    /// into, so that another module's copies in the default context neither break CalendarWatch nor get replaced by it.
    /// This assembly is the only CalendarWatch code in the default context: CalendarWatch.psm1 loads it and imports the
    /// cmdlet assembly that <see cref="LoadCmdletAssembly"/> returns.
    /// </summary>
    /// <remarks>
    /// What the cmdlets share with PowerShell comes from the default context: System.Management.Automation and the
    /// rest of PowerShell (a cmdlet type must derive from PowerShell's own PSCmdlet) and the .NET shared framework,
    /// which no deps.json of a module lists. Everything else the module's deps.json (CalendarWatch.deps.json, written by
    /// dotnet publish) names loads here from the module's folder, with the runtime-specific copy where there is one
    /// (runtimes/win/lib/... on Windows). That includes Newtonsoft.Json, which PowerShell also ships for itself: no type
    /// of it crosses between PowerShell and the cmdlets, so the module keeps the copy it was built and tested with.
    /// </remarks>
    public sealed class ModuleLoadContext : AssemblyLoadContext
    {
        private static readonly object Gate = new object();
        private static readonly Dictionary<string, ModuleLoadContext> Contexts =
            new Dictionary<string, ModuleLoadContext>(OperatingSystem.IsWindows() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal);

        private static readonly string OwnName = typeof(ModuleLoadContext).Assembly.GetName().Name ?? string.Empty;

        private readonly string _folder;
        private readonly AssemblyDependencyResolver? _resolver;
        private readonly string[] _nativeFolders;
        private Assembly? _cmdletAssembly;

        internal ModuleLoadContext(string mainAssemblyPath)
            : base("CalendarWatch", isCollectible: false)
        {
            _folder = Path.GetDirectoryName(mainAssemblyPath) ?? throw new ArgumentException($"'{mainAssemblyPath}' has no folder.", nameof(mainAssemblyPath));
            try
            {
                // Reads <main>.deps.json; without one, every assembly in the folder counts as the component's.
                _resolver = new AssemblyDependencyResolver(mainAssemblyPath);
            }
            catch (InvalidOperationException)
            {
                // A host without the .NET host policy (rare, e.g. some single-file hosts): probe the folder by name only.
                _resolver = null;
            }

            _nativeFolders = NativeFolders(_folder);
        }

        /// <summary>
        /// The cmdlet assembly at <paramref name="path"/> (an absolute path), loaded into its module's private context.
        /// One context per path for the life of the process: a re-import (Import-Module -Force, or Remove-Module then
        /// Import-Module) gets the same assembly back, since .NET cannot unload it; another installed version of the
        /// module gets a context of its own.
        /// </summary>
        public static Assembly LoadCmdletAssembly(string path)
        {
            if (string.IsNullOrEmpty(path) || !Path.IsPathRooted(path))
            {
                throw new ArgumentException($"An absolute path to the cmdlet assembly is needed, not '{path}'.", nameof(path));
            }

            var fullPath = Path.GetFullPath(path);
            lock (Gate)
            {
                if (!Contexts.TryGetValue(fullPath, out var context))
                {
                    if (!File.Exists(fullPath))
                    {
                        throw new FileNotFoundException($"CalendarWatch: '{fullPath}' is missing.", fullPath);
                    }

                    context = new ModuleLoadContext(fullPath);
                    context._cmdletAssembly = context.LoadFromAssemblyPath(fullPath);
                    Contexts.Add(fullPath, context);
                }

                return context._cmdletAssembly!;
            }
        }

        protected override Assembly? Load(AssemblyName assemblyName)
        {
            var name = assemblyName.Name;
            if (string.IsNullOrEmpty(name) || IsSharedWithPowerShell(name))
            {
                return null;
            }

            var path = _resolver?.ResolveAssemblyToPath(assemblyName) ?? ExistingFile(Path.Combine(_folder, name + ".dll"));
            return path is null ? null : LoadFromAssemblyPath(path);
        }

        protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
        {
            var path = FindNativeLibrary(unmanagedDllName);
            return path is null ? IntPtr.Zero : LoadUnmanagedDllFromPath(path);
        }

        /// <summary>
        /// A native library the module bundles: the path its deps.json gives for this platform, else the first of
        /// runtimes/&lt;rid&gt;/native/, runtimes/&lt;portable rid&gt;/native/ and the module's folder that holds it
        /// under the platform's file name (e_sqlite3 → e_sqlite3.dll, libe_sqlite3.so, libe_sqlite3.dylib). Null lets
        /// .NET search the usual places.
        /// </summary>
        internal string? FindNativeLibrary(string unmanagedDllName)
        {
            if (string.IsNullOrEmpty(unmanagedDllName) || Path.IsPathRooted(unmanagedDllName))
            {
                return null;
            }

            var resolved = _resolver?.ResolveUnmanagedDllToPath(unmanagedDllName);
            if (resolved is not null)
            {
                return resolved;
            }

            foreach (var folder in _nativeFolders)
            {
                foreach (var fileName in NativeFileNames(unmanagedDllName))
                {
                    var path = ExistingFile(Path.Combine(folder, fileName));
                    if (path is not null)
                    {
                        return path;
                    }
                }
            }

            return null;
        }

        /// <summary>The assemblies whose types the cmdlets share with PowerShell: always the default context's copy.</summary>
        internal static bool IsSharedWithPowerShell(string name) =>
            name.Equals(OwnName, StringComparison.OrdinalIgnoreCase)
            || name.Equals("System.Management.Automation", StringComparison.OrdinalIgnoreCase)
            || name.StartsWith("Microsoft.PowerShell.", StringComparison.OrdinalIgnoreCase)
            || name.StartsWith("Microsoft.Management.Infrastructure", StringComparison.OrdinalIgnoreCase);

        private static string[] NativeFolders(string folder)
        {
            var folders = new List<string>();
            void Add(string? rid)
            {
                if (string.IsNullOrEmpty(rid))
                {
                    return;
                }

                var path = Path.Combine(folder, "runtimes", rid, "native");
                if (!folders.Contains(path))
                {
                    folders.Add(path);
                }
            }

            // The runtime's own RID (linux-x64, linux-musl-arm64, win-x64, osx-arm64; a distribution's build of .NET may
            // say ubuntu.24.04-x64), then the portable one that NuGet packages ship their native assets under.
            Add(RuntimeInformation.RuntimeIdentifier);
            var os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : OperatingSystem.IsLinux() ? "linux" : null;
            if (os is not null)
            {
                Add(os + "-" + RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant());
            }

            folders.Add(folder);
            return folders.ToArray();
        }

        private static IEnumerable<string> NativeFileNames(string name)
        {
            yield return name;
            if (OperatingSystem.IsWindows())
            {
                if (!name.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
                {
                    yield return name + ".dll";
                }
            }
            else
            {
                var suffix = OperatingSystem.IsMacOS() ? ".dylib" : ".so";
                var bare = name.EndsWith(suffix, StringComparison.Ordinal) ? name.Substring(0, name.Length - suffix.Length) : name;
                if (!bare.StartsWith("lib", StringComparison.Ordinal))
                {
                    yield return "lib" + bare + suffix;
                }

                yield return bare + suffix;
            }
        }

        private static string? ExistingFile(string path) => File.Exists(path) ? path : null;
    }
}
