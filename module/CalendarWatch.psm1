# CalendarWatch.psm1: loads the compiled cmdlets built for this PowerShell edition.
#   PowerShell 7.4+ (Core)           -> bin/net8.0/CalendarWatch.dll
#   Windows PowerShell 5.1 (Desktop) -> bin/net472/CalendarWatch.dll
#
# TODO (dependency isolation, a later issue): on Core the module's assemblies and their dependencies
# (Google.Apis.*, Newtonsoft.Json, System.Text.Json, ...) are to load through a small loader assembly into a private
# AssemblyLoadContext, so that another module's copy (PSGSuite ships Google.Apis.*) cannot break this one. Until
# then they load into the default context: whichever module loads a shared assembly first wins.
# On Windows PowerShell 5.1 the dll's DesktopAssemblyResolver (an IModuleAssemblyInitializer) answers version
# mismatches between the dependencies with the copies in bin/net472, since powershell.exe has no binding redirects.
Set-StrictMode -Version Latest

if ($PSEdition -eq 'Core' -and [version]::new($PSVersionTable.PSVersion.Major, $PSVersionTable.PSVersion.Minor) -lt [version]'7.4') {
    # PowerShell 7.2 and 7.3 run on .NET 6 and 7, which cannot load assemblies built for net8.0.
    throw "CalendarWatch needs PowerShell 7.4 or later (this is $($PSVersionTable.PSVersion)), or Windows PowerShell 5.1. Install PowerShell 7.4+: https://aka.ms/powershell"
}

$framework = if ($PSEdition -eq 'Core') { 'net8.0' } else { 'net472' }
$assemblyPath = [System.IO.Path]::Combine($PSScriptRoot, 'bin', $framework, 'CalendarWatch.dll')

if ('CalendarWatch.Commands.NewCalendarEventWatchCommand' -as [type]) {
    # Imported before in this session (Import-Module -Force): an assembly cannot be loaded twice, reuse it.
    $innerModule = Import-Module -Assembly ([CalendarWatch.Commands.NewCalendarEventWatchCommand].Assembly) -Force -PassThru -ErrorAction Stop
}
elseif (Test-Path -LiteralPath $assemblyPath) {
    $innerModule = Import-Module -Name $assemblyPath -PassThru -ErrorAction Stop
}
else {
    throw "CalendarWatch: '$assemblyPath' is missing. Build the module (./build.ps1 -Task Build) and import output/CalendarWatch/<version>/CalendarWatch.psd1."
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
