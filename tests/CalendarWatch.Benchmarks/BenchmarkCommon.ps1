# Dot-sourced by the benchmark's PowerShell scripts (LifecycleBenchmark.ps1, PipelineBenchmark.ps1): printing figures,
# the emulator's admin surface (CW_BASE) and one timed run of New-CalendarEventWatch.
$process = [System.Diagnostics.Process]::GetCurrentProcess()
$invariant = [cultureinfo]::InvariantCulture

function Write-Figure([string]$Name, [double]$Value, [string]$Unit) {
    '{0} {1} {2}' -f $Name, [Math]::Round($Value, 4).ToString($invariant), $Unit
}

function Invoke-Admin([string]$Method, [string]$Path, [object]$Body) {
    $uri = [Uri]::new([Uri]$env:CW_BASE, "emulator/v1/$Path")
    if ($null -eq $Body) { return Invoke-RestMethod -Method $Method -Uri $uri }
    Invoke-RestMethod -Method $Method -Uri $uri -ContentType 'application/json' -Body ($Body | ConvertTo-Json -Compress)
}

# One New-CalendarEventWatch of $Items with the parameters in $Watch, its output counted, not kept: wall and process
# CPU time, channels made, failures and the first failure.
function Measure-WatchRun([object[]]$Items, [hashtable]$Watch) {
    $cpu = $process.TotalProcessorTime
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    $failures = $null
    $made = 0
    $Items | New-CalendarEventWatch @Watch -ErrorAction SilentlyContinue -ErrorVariable failures | ForEach-Object { $made++ }
    $clock.Stop()
    [PSCustomObject]@{
        Wall     = $clock.Elapsed.TotalSeconds
        Cpu      = ($process.TotalProcessorTime - $cpu).TotalMilliseconds
        Made     = $made
        Failures = @($failures).Count
        First    = @($failures | Select-Object -First 1)
    }
}
