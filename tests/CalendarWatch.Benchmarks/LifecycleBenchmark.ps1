# Run by the benchmark (LifecycleBenchmark.cs) in a fresh PowerShell: the channel lifecycle as an admin's script runs it,
# timed inside this process. Prints "name value unit" lines (and "# " notes) for the benchmark to pass on.
# Input in environment variables: CW_MANIFEST, CW_BASE (the emulator), CW_KEY (a key file that may impersonate every
# subject), CW_SUBJECTS (comma-separated), CW_CALENDARS (calendars per subject, named lc-<s>-<c> and rc-<s>-<c>),
# CW_RENEW (channels renewed), CW_RECORD_WATCHES, CW_LATENCY_MS, CW_USER_LIMIT and CW_PROJECT_LIMIT (per 1 s window),
# CW_THROTTLE, CW_FOLDER (for the record files).
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module -Name $env:CW_MANIFEST

$base = [Uri]$env:CW_BASE
$subjects = @($env:CW_SUBJECTS -split ',')
$calendarsPerSubject = [int]$env:CW_CALENDARS
$renewCount = [int]$env:CW_RENEW
$recordWatches = [int]$env:CW_RECORD_WATCHES
$latencyMs = [int]$env:CW_LATENCY_MS
$throttle = [int]$env:CW_THROTTLE
$address = [Uri]::new($base, 'benchmark-sink')
. (Join-Path -Path $PSScriptRoot -ChildPath 'BenchmarkCommon.ps1')

# The emulator's counters as a hashtable: their keys (user names among them) may differ only in case.
function Get-Stat {
    (Invoke-WebRequest -Uri ([Uri]::new($base, 'emulator/v1/stats'))).Content | ConvertFrom-Json -AsHashtable
}

# Items as a CSV of users and their calendars gives them: channel k is on calendar <prefix>-<s>-<c> as subject s.
function New-Item([string]$Prefix, [int]$Count) {
    for ($k = 0; $k -lt $Count; $k++) {
        $s = $k % $subjects.Count
        $c = [Math]::Floor($k / $subjects.Count) % $calendarsPerSubject
        [PSCustomObject]@{ CalendarId = "$Prefix-$s-$c@resource.calendar.google.com"; Subject = $subjects[$s] }
    }
}

Connect-CalendarWatch -KeyFile $env:CW_KEY -ApiEndpoint $base

# 1. What the record costs: the same watches with the record on and off, alternated (off on on off, three times), after
#    two full warm-up runs of each (the runtime is still compiling hot paths in the first two); the median of six of each.
$recordPath = Join-Path -Path $env:CW_FOLDER -ChildPath 'record-cost.db'
function Measure-Watch([bool]$Record, [object[]]$Items) {
    $watch = @{ Address = $address; ThrottleLimit = $throttle }
    if ($Record) { $watch.RecordPath = $recordPath } else { $watch.NoRecord = $true }
    Measure-WatchRun -Items $Items -Watch $watch
}

$recordItems = @(New-Item -Prefix 'rc' -Count $recordWatches)
# Warm-up: two full runs of each, so that tiered compilation has settled before anything is measured.
foreach ($record in @($false, $true, $false, $true)) { $null = Measure-Watch -Record $record -Items $recordItems }
$off = [System.Collections.Generic.List[object]]::new()
$on = [System.Collections.Generic.List[object]]::new()
foreach ($record in @($false, $true, $true, $false) * 3) {
    $run = Measure-Watch -Record $record -Items $recordItems
    if ($record) { $on.Add($run) } else { $off.Add($run) }
    '# record {0}: {1:0.000} s wall, {2:0} ms CPU, {3} made, {4} failed' -f $(if ($record) { 'on ' } else { 'off' }), $run.Wall, $run.Cpu, $run.Made, $run.Failures
}
function Get-Median([double[]]$Values) {
    $sorted = @($Values | Sort-Object)
    $middle = [int][Math]::Floor($sorted.Count / 2)
    if ($sorted.Count % 2 -eq 1) { $sorted[$middle] } else { ($sorted[$middle - 1] + $sorted[$middle]) / 2 }
}
$offWall = Get-Median @($off | ForEach-Object Wall)
$onWall = Get-Median @($on | ForEach-Object Wall)
$offCpu = (Get-Median @($off | ForEach-Object Cpu)) / $recordWatches
$onCpu = (Get-Median @($on | ForEach-Object Cpu)) / $recordWatches
Write-Figure 'record_watches' $recordWatches 'count'
Write-Figure 'record_off_wall' $offWall 's'
Write-Figure 'record_on_wall' $onWall 's'
Write-Figure 'record_wall_ratio' ($onWall / $offWall) 'x'
Write-Figure 'record_off_cpu_per_channel' $offCpu 'ms'
Write-Figure 'record_on_cpu_per_channel' $onCpu 'ms'
Write-Figure 'record_cpu_per_channel_added' ($onCpu - $offCpu) 'ms'
Write-Figure 'record_failures' ((@($off + $on) | Measure-Object -Property Failures -Sum).Sum) 'count'

# 2. Renewal under quotas: channels made across the subjects into a record of their own, then the per-user and
#    project limits switched on and every live channel renewed through the pipeline, at default retry settings.
$renewPath = Join-Path -Path $env:CW_FOLDER -ChildPath 'renewal.db'
$made = @(New-Item -Prefix 'lc' -Count $renewCount | New-CalendarEventWatch -Address $address -ThrottleLimit $throttle -RecordPath $renewPath)
# The clock moves on, so that no earlier request is inside the first window.
$null = Invoke-Admin -Method Put -Path 'clock' -Body @{ advanceSeconds = 60 }
$null = Invoke-Admin -Method Put -Path 'faults' -Body @{ latencyMs = $latencyMs; userRateLimit = [int]$env:CW_USER_LIMIT; projectRateLimit = [int]$env:CW_PROJECT_LIMIT; rateLimitWindowSeconds = 1 }
$stats = Get-Stat
$cpu = $process.TotalProcessorTime
$clock = [System.Diagnostics.Stopwatch]::StartNew()
$failures = $null
$renewed = @(Get-CalendarChannel -RecordPath $renewPath | Update-CalendarChannel -RecordPath $renewPath -ThrottleLimit $throttle -ErrorAction SilentlyContinue -ErrorVariable failures)
$clock.Stop()
$renewCpu = ($process.TotalProcessorTime - $cpu).TotalMilliseconds
$null = Invoke-Admin -Method Put -Path 'faults' -Body @{ latencyMs = $latencyMs }
$after = Get-Stat

# Every channel the emulator holds on these calendars, active, must be in the record as Active; the old ones Replaced.
$serverChannels = Invoke-Admin -Method Get -Path 'channels'
$serverActive = @($serverChannels | Where-Object { $_.calendarId -like 'lc-*' -and $_.state -eq 'active' } | ForEach-Object id)
$recordActive = [System.Collections.Generic.HashSet[string]]::new([string[]]@(Get-CalendarChannel -RecordPath $renewPath -State Active | ForEach-Object ChannelId))
$unrecorded = @($serverActive | Where-Object { -not $recordActive.Contains($_) }).Count
$replaced = @(Get-CalendarChannel -RecordPath $renewPath -State Replaced).Count
function Get-Sent($Stats) {
    $sum = 0
    foreach ($count in $Stats['requestsByMethod'].Values) { $sum += [long]$count }
    $sum
}
$sent = (Get-Sent $after) - (Get-Sent $stats)
$requests = 2 * $renewCount
$perSubject = [Math]::Ceiling($renewCount / $subjects.Count) * 2
$bound = [Math]::Max($requests / [double]$env:CW_PROJECT_LIMIT, $perSubject / [double]$env:CW_USER_LIMIT)
Write-Figure 'renew_channels' $renewCount 'count'
Write-Figure 'renew_subjects' $subjects.Count 'count'
Write-Figure 'renew_made_before' $made.Count 'count'
Write-Figure 'renew_wall' $clock.Elapsed.TotalSeconds 's'
Write-Figure 'renew_bound' $bound 's'
Write-Figure 'renew_wall_over_bound' ($clock.Elapsed.TotalSeconds / $bound) 'x'
Write-Figure 'renew_renewed' $renewed.Count 'count'
Write-Figure 'renew_failures' @($failures).Count 'count'
Write-Figure 'renew_replaced_in_record' $replaced 'count'
Write-Figure 'renew_server_active' $serverActive.Count 'count'
Write-Figure 'renew_unrecorded' $unrecorded 'count'
Write-Figure 'renew_requests_sent' $sent 'count'
Write-Figure 'renew_refused_share' (100.0 * [Math]::Max(0, $sent - 2 * $renewed.Count) / [Math]::Max(1, $sent)) '%'
Write-Figure 'renew_cpu_per_channel' ($renewCpu / [Math]::Max(1, $renewCount)) 'ms'
foreach ($failure in @($failures | Select-Object -First 3)) { '# renew failure: ' + $failure.FullyQualifiedErrorId + ': ' + $failure.Exception.Message }
