# Run by the benchmark (PipelineBenchmark.cs) in a fresh PowerShell: what the pipeline costs a PowerShell user, timed
# inside this process. Prints "name value unit" lines (and "# " notes) for the benchmark to pass on.
# Input in environment variables: CW_MANIFEST, CW_BASE (the emulator), CW_KEY (the key file), CW_CALENDARS (how many
# calendars, named pl-<i>@resource.calendar.google.com, one watch each per run), CW_THROTTLE, CW_LATENCY_MS,
# CW_BOUND_S (calendars x the measured time per request / throttle, from a sequential loop in the benchmark),
# CW_CPU_WATCHES and CW_CPU_WARMUP (the zero-latency runs).
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path -Path $PSScriptRoot -ChildPath 'BenchmarkCommon.ps1')
$clock = [System.Diagnostics.Stopwatch]::StartNew()
Import-Module -Name $env:CW_MANIFEST
$importMs = $clock.Elapsed.TotalMilliseconds

$base = [Uri]$env:CW_BASE
$calendarCount = [int]$env:CW_CALENDARS
$throttle = [int]$env:CW_THROTTLE
$bound = [double]::Parse($env:CW_BOUND_S, $invariant)
$cpuWatches = [int]$env:CW_CPU_WATCHES
$cpuWarmup = [int]$env:CW_CPU_WARMUP
$address = [Uri]::new($base, 'benchmark-sink')

function Set-Latency([int]$Milliseconds) {
    $null = Invoke-Admin -Method Put -Path 'faults' -Body @{ latencyMs = $Milliseconds }
}

# One watch of every calendar, or Count watches over the calendars in turn; counted, not kept.
function Measure-Watch([int]$Count) {
    $items = [string[]]::new($Count)
    for ($i = 0; $i -lt $Count; $i++) { $items[$i] = "pl-$($i % $calendarCount)@resource.calendar.google.com" }
    Measure-WatchRun -Items $items -Watch @{ Address = $address; ThrottleLimit = $throttle; NoRecord = $true }
}

Connect-CalendarWatch -KeyFile $env:CW_KEY -ApiEndpoint $base
'# pipeline: Import-Module {0:0.0} ms in this process' -f $importMs

# 1. The first New-CalendarEventWatch of this process (everything it compiles at run time included), then a second.
$first = Measure-Watch -Count $calendarCount
$second = Measure-Watch -Count $calendarCount
foreach ($run in @($first, $second)) {
    foreach ($failure in $run.First) { '# pipeline failure: ' + $failure.FullyQualifiedErrorId + ': ' + $failure.Exception.Message }
}
Write-Figure 'pipeline_watches' $calendarCount 'count'
Write-Figure 'pipeline_latency_ms' ([int]$env:CW_LATENCY_MS) 'ms'
Write-Figure 'pipeline_measured_request_bound' $bound 's'
Write-Figure 'pipeline_first_run_wall' $first.Wall 's'
Write-Figure 'pipeline_second_run_wall' $second.Wall 's'
Write-Figure 'pipeline_first_run_wall_over_measured_request_bound' ($first.Wall / $bound) 'x'
Write-Figure 'pipeline_second_run_wall_over_measured_request_bound' ($second.Wall / $bound) 'x'
Write-Figure 'pipeline_first_run_failures' ($first.Failures + ($calendarCount - $first.Made - $first.Failures)) 'count'
Write-Figure 'pipeline_second_run_failures' ($second.Failures + ($calendarCount - $second.Made - $second.Failures)) 'count'

# 2. Zero latency: the process's CPU per channel, after a warm-up run.
Set-Latency -Milliseconds 0
$null = Measure-Watch -Count $cpuWarmup
$cpuRun = Measure-Watch -Count $cpuWatches
foreach ($failure in $cpuRun.First) { '# pipeline failure: ' + $failure.FullyQualifiedErrorId + ': ' + $failure.Exception.Message }
Set-Latency -Milliseconds ([int]$env:CW_LATENCY_MS)
Write-Figure 'pipeline_cpu_watches' $cpuWatches 'count'
Write-Figure 'pipeline_cpu_wall' $cpuRun.Wall 's'
Write-Figure 'pipeline_cpu_per_channel' ($cpuRun.Cpu / [Math]::Max(1, $cpuWatches)) 'ms'
Write-Figure 'pipeline_cpu_failures' ($cpuRun.Failures + ($cpuWatches - $cpuRun.Made - $cpuRun.Failures)) 'count'
