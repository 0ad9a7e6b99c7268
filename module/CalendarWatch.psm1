# CalendarWatch.psm1: loads the compiled cmdlets built for this PowerShell edition.
#   PowerShell 7.4+ (Core)           -> bin/net8.0/CalendarWatch.dll, in a private AssemblyLoadContext
#   Windows PowerShell 5.1 (Desktop) -> bin/net472/CalendarWatch.dll, loaded normally
#
# PowerShell 7: bin/net8.0/CalendarWatch.LoadContext.dll is the only CalendarWatch assembly in the default context. Its
# ModuleLoadContext loads CalendarWatch.dll into a context of its own ("CalendarWatch"), and with it CalendarWatch.Engine
# and every dependency CalendarWatch.deps.json names (Google.Apis.*, Newtonsoft.Json, Polly.Core, ...) plus bundled
# native libraries, so another module's copies (PSGSuite ships Google.Apis.*) neither break this module nor get replaced
# by it. System.Management.Automation, the rest of PowerShell and .NET itself come from the default context.
# Windows PowerShell 5.1 has no load contexts: the dll's DesktopAssemblyResolver (an IModuleAssemblyInitializer) answers
# the version mismatches between the module's own dependencies with the copies in bin/net472 (powershell.exe has no
# binding redirects for a module), and only binds that CalendarWatch's own assemblies or its dependencies ask for.
Set-StrictMode -Version Latest

if ($PSEdition -eq 'Core' -and [version]::new($PSVersionTable.PSVersion.Major, $PSVersionTable.PSVersion.Minor) -lt [version]'7.4') {
    # PowerShell 7.2 and 7.3 run on .NET 6 and 7, which cannot load assemblies built for net8.0.
    throw "CalendarWatch needs PowerShell 7.4 or later (this is $($PSVersionTable.PSVersion)), or Windows PowerShell 5.1. Install PowerShell 7.4+: https://aka.ms/powershell"
}

$framework = if ($PSEdition -eq 'Core') { 'net8.0' } else { 'net472' }
$binFolder = [System.IO.Path]::Combine($PSScriptRoot, 'bin', $framework)
$assemblyPath = [System.IO.Path]::Combine($binFolder, 'CalendarWatch.dll')
# [IO.File]::Exists, not Test-Path: the first Test-Path of a session autoloads Microsoft.PowerShell.Management, which
# costs more than half as much again as the rest of a cold Import-Module.
if (-not [System.IO.File]::Exists($assemblyPath)) {
    throw "CalendarWatch: '$assemblyPath' is missing. Build the module (./build.ps1 -Task Build) and import output/CalendarWatch/<version>/CalendarWatch.psd1."
}

if ($PSEdition -eq 'Core') {
    # The loader's assembly version never changes, so LoadFrom hands back the copy already loaded in this process, if
    # any (a re-import, or another installed version of the module), and PowerShell's slow type-name lookup is avoided.
    # Its one method takes the path of the cmdlet assembly and keeps one context per path: the same assembly on every
    # import in this process, since .NET cannot unload it.
    $loader = [System.Reflection.Assembly]::LoadFrom([System.IO.Path]::Combine($binFolder, 'CalendarWatch.LoadContext.dll'))
    $cmdletAssembly = $loader.GetType('CalendarWatch.LoadContext.ModuleLoadContext', $true)::LoadCmdletAssembly($assemblyPath)
    $innerModule = Import-Module -Assembly $cmdletAssembly -Force -PassThru -ErrorAction Stop
}
elseif ('CalendarWatch.Commands.NewCalendarEventWatchCommand' -as [type]) {
    # Imported before in this session (Import-Module -Force): an assembly cannot be loaded twice, reuse it.
    $innerModule = Import-Module -Assembly ([CalendarWatch.Commands.NewCalendarEventWatchCommand].Assembly) -Force -PassThru -ErrorAction Stop
}
else {
    $innerModule = Import-Module -Name $assemblyPath -PassThru -ErrorAction Stop
}

# On a re-import PowerShell may hand back the cached binary module without exposing its cmdlets through this one
# (PowerShell/PowerShell#20710); make sure every cmdlet it exports is exported from this module too.
$addExportedCmdlet = [System.Management.Automation.PSModuleInfo].GetMethod('AddExportedCmdlet', [System.Reflection.BindingFlags]'Instance, NonPublic')
if ($null -ne $innerModule -and $null -ne $addExportedCmdlet) {
    foreach ($cmdlet in @($innerModule.ExportedCmdlets.Values)) {
        if (-not $ExecutionContext.SessionState.Module.ExportedCmdlets.ContainsKey($cmdlet.Name)) {
            $null = $addExportedCmdlet.Invoke($ExecutionContext.SessionState.Module, @(, $cmdlet))
        }
    }
}
