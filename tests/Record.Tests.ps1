# Pester 5: the channel record as an admin relies on it — the whole lifecycle through Get-CalendarChannel, a process
# killed mid-run (SIGKILL) losing nothing, reconciling afterwards, and several writers at once — against the emulator.

BeforeAll {
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'

    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'CalendarWatch.TestHelpers.psm1') -Force
    $script:session = Start-TestSession -RepositoryRoot (Split-Path -Path $PSScriptRoot -Parent)
    $script:builtManifest = $script:session.Manifest
    $script:emulator = $script:session.Emulator
    $script:receiver = $script:session.Receiver
    $script:address = $script:session.Address

    $script:pwsh = Join-Path -Path $PSHOME -ChildPath $(if ($IsWindows) { 'pwsh.exe' } else { 'pwsh' })
    if (-not (Test-Path -LiteralPath $script:pwsh -PathType Leaf)) {
        $script:pwsh = [System.Diagnostics.Process]::GetCurrentProcess().MainModule.FileName
    }

    function New-TestCalendar {
        param([string]$Prefix = 'rec')
        $id = '{0}-{1}@example.com' -f $Prefix, [guid]::NewGuid().ToString('N').Substring(0, 10)
        New-EmulatorCalendar -Emulator $script:emulator -Id $id
        $id
    }

    function New-RecordPath {
        Join-Path -Path $TestDrive -ChildPath ('record-{0}.db' -f [guid]::NewGuid().ToString('N').Substring(0, 8))
    }

    function Get-ActiveServerChannel {
        param([string[]]$CalendarId)
        $wanted = [System.Collections.Generic.HashSet[string]]::new([string[]]$CalendarId, [StringComparer]::OrdinalIgnoreCase)
        @(Get-EmulatorChannel -Emulator $script:emulator | Where-Object { $_.state -eq 'active' -and $wanted.Contains([string]$_.calendarId) })
    }

}

AfterAll {
    Stop-TestSession -Session $script:session
}

Describe 'The whole lifecycle on the record' {
    It 'records, renews and stops, and the record agrees with the emulator at every step' {
        $record = New-RecordPath
        $calendars = @(1..3 | ForEach-Object { New-TestCalendar })

        $made = @($calendars | New-CalendarEventWatch -Address $script:address -RecordPath $record)
        $live = @(Get-CalendarChannel -RecordPath $record)
        $live.Count | Should -Be 3
        $live | ForEach-Object { $_.State | Should -Be 'Active' }
        $live[0].PSObject.TypeNames[0] | Should -Be 'CalendarWatch.ChannelRecord'
        @($live.ChannelId | Sort-Object) | Should -Be @($made.Id | Sort-Object)

        # CSV round trip of the record's objects, then renew from it.
        $csv = Join-Path -Path $TestDrive -ChildPath 'record.csv'
        $live | Export-Csv -LiteralPath $csv -NoTypeInformation
        $renewed = @(Import-Csv -LiteralPath $csv | Update-CalendarChannel -RecordPath $record)
        $renewed.Count | Should -Be 3
        @(Get-CalendarChannel -RecordPath $record -State Replaced).Count | Should -Be 3
        $now = @(Get-CalendarChannel -RecordPath $record)
        @($now.ChannelId | Sort-Object) | Should -Be @($renewed.Id | Sort-Object)
        @($now.Replaces | Sort-Object) | Should -Be @($made.Id | Sort-Object)
        @(Get-ActiveServerChannel -CalendarId $calendars).id | Sort-Object | Should -Be @($renewed.Id | Sort-Object)

        Get-CalendarChannel -RecordPath $record | Stop-CalendarChannel -RecordPath $record

        @(Get-CalendarChannel -RecordPath $record).Count | Should -Be 0
        @(Get-CalendarChannel -RecordPath $record -State Stopped).Count | Should -Be 3
        @(Get-ActiveServerChannel -CalendarId $calendars).Count | Should -Be 0
    }

    It 'stops a channel by -Id alone: the record knows the rest' {
        $record = New-RecordPath
        $channel = New-CalendarAclWatch -CalendarId (New-TestCalendar) -Address $script:address -RecordPath $record
        Stop-CalendarChannel -Id $channel.Id -RecordPath $record
        (Get-CalendarChannel -Id $channel.Id -RecordPath $record).State | Should -Be 'Stopped'
    }

    It 'filters by calendar, resource and time to expiry' {
        $record = New-RecordPath
        $calendar = New-TestCalendar
        $null = New-CalendarEventWatch -CalendarId $calendar -Address $script:address -TimeToLive (New-TimeSpan -Hours 3) -RecordPath $record
        $null = New-CalendarAclWatch -CalendarId $calendar -Address $script:address -TimeToLive (New-TimeSpan -Days 5) -RecordPath $record
        $null = New-CalendarEventWatch -CalendarId (New-TestCalendar) -Address $script:address -RecordPath $record

        @(Get-CalendarChannel -RecordPath $record -CalendarId $calendar).Count | Should -Be 2
        @(Get-CalendarChannel -RecordPath $record -CalendarId $calendar -Resource Acl).Count | Should -Be 1
        @(Get-CalendarChannel -RecordPath $record -ExpiringWithin (New-TimeSpan -Days 1)).Count | Should -Be 1
    }

    It 'records a watch that may have made a channel as MayExist, and refuses nothing it should not' {
        $record = New-RecordPath
        Connect-CalendarWatch -Emulator $script:emulator.BaseUri -MaxRetry 0
        Set-EmulatorFault -Emulator $script:emulator -Fault @{ error503Rate = 1 }
        try {
            $null = New-CalendarEventWatch -CalendarId (New-TestCalendar) -Address $script:address -RecordPath $record -ErrorAction SilentlyContinue -ErrorVariable failures
        }
        finally {
            Set-EmulatorFault -Emulator $script:emulator -Fault @{}
            Connect-CalendarWatch -Emulator $script:emulator.BaseUri
        }

        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.ChannelMayExist,*'
        $entry = Get-CalendarChannel -RecordPath $record
        $entry.State | Should -Be 'MayExist'
        $entry.ChannelId | Should -Be $failures[0].Exception.ChannelId
    }

    It 'refuses a channel id the record already holds, before sending' {
        $record = New-RecordPath
        $calendar = New-TestCalendar
        $null = New-CalendarEventWatch -CalendarId $calendar -Address $script:address -ChannelId 'recorded-once' -RecordPath $record
        $before = @(Get-EmulatorChannel -Emulator $script:emulator).Count
        $null = New-CalendarEventWatch -CalendarId $calendar -Address $script:address -ChannelId 'recorded-once' -RecordPath $record -ErrorAction SilentlyContinue -ErrorVariable failures
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.ChannelIdRecorded,*'
        @(Get-EmulatorChannel -Emulator $script:emulator).Count | Should -Be $before
    }

    It 'writes nothing under -NoRecord' {
        $record = New-RecordPath
        $null = New-CalendarEventWatch -CalendarId (New-TestCalendar) -Address $script:address -RecordPath $record -NoRecord
        Test-Path -LiteralPath $record | Should -BeFalse
    }

    It 'marks the requests a stop kept from being sent Failed (never sent), and none of them exists' {
        $record = New-RecordPath
        $calendar = New-TestCalendar
        # One slot and slow answers: the requests queued behind the first wait for the slot, and the second to get it
        # writes all their rows (the pipeline has the first answer's 400 ms to queue them). The stop after two channels
        # then finds written rows of requests that were never sent, whichever way the slot and the stop race.
        Set-EmulatorFault -Emulator $script:emulator -Fault @{ latencyMs = 400 }
        try {
            $items = 1..24 | ForEach-Object { [PSCustomObject]@{ CalendarId = $calendar } }
            $made = @($items | New-CalendarEventWatch -Address $script:address -ThrottleLimit 1 -RecordPath $record -WarningAction SilentlyContinue -WarningVariable warnings | Select-Object -First 2)
        }
        finally {
            Set-EmulatorFault -Emulator $script:emulator -Fault @{}
        }

        $made.Count | Should -Be 2
        $rows = @(Get-CalendarChannel -RecordPath $record -State Pending, Active, MayExist, Failed)
        # Pending is left only by a request cut off in flight (it may exist): at most one per slot.
        @($rows | Where-Object State -EQ 'Pending').Count | Should -BeLessOrEqual 1
        $neverSent = @($rows | Where-Object { $_.State -eq 'Failed' -and $_.LastError -like 'Never sent*' })
        $neverSent.Count | Should -BeGreaterThan 0

        # Every channel the emulator holds on the calendar is in the record as made (or as may exist); none of the
        # never-sent ones exists.
        $server = @(Get-EmulatorChannel -Emulator $script:emulator | Where-Object { $_.calendarId -eq $calendar })
        $byId = @{}
        $rows | ForEach-Object { $byId[$_.ChannelId] = $_.State }
        foreach ($channel in $server) {
            $byId[[string]$channel.id] | Should -BeIn @('Active', 'MayExist', 'Pending')
        }
        $serverIds = @($server | ForEach-Object { [string]$_.id })
        $neverSent | ForEach-Object { $serverIds | Should -Not -Contain $_.ChannelId }
        @($made.Id) | ForEach-Object { $byId[$_] | Should -Be 'Active' }

        # Reported as not started (nothing was sent), never as cut off in flight.
        $notStarted = @($warnings | Where-Object { "$_" -match '^(\d+) item\(s\) were not started' })
        $notStarted.Count | Should -Be 1
        [int]([regex]::Match("$($notStarted[0])", '^\d+').Value) | Should -BeGreaterOrEqual $neverSent.Count
        $inFlight = @($warnings | Where-Object { "$_" -like '*cancelled in flight*' } | ForEach-Object { "$_" })
        foreach ($row in $neverSent) {
            $inFlight | Where-Object { $_ -like "*$($row.ChannelId)*" } | Should -BeNullOrEmpty
        }
    }
}

Describe 'A run killed at any moment loses no channel' {
    BeforeAll {
        $script:killCalendars = @(1..500 | ForEach-Object { 'kill-{0:d3}-{1}@example.com' -f $_, [guid]::NewGuid().ToString('N').Substring(0, 6) })
        foreach ($calendar in $script:killCalendars) {
            New-EmulatorCalendar -Emulator $script:emulator -Id $calendar
        }

        $script:killRecord = New-RecordPath
        $script:idsFile = Join-Path -Path $TestDrive -ChildPath 'kill-calendars.txt'
        Set-Content -LiteralPath $script:idsFile -Value $script:killCalendars
        $script:killScript = Join-Path -Path $TestDrive -ChildPath 'kill-child.ps1'
        Set-Content -LiteralPath $script:killScript -Encoding utf8 -Value @'
param([string]$Manifest, [string]$Emulator, [string]$Address, [string]$Ids, [string]$Record)
$ErrorActionPreference = 'Stop'
Import-Module -Name $Manifest
Connect-CalendarWatch -Emulator $Emulator
[Console]::Out.WriteLine('ready')
Get-Content -LiteralPath $Ids | New-CalendarEventWatch -Address $Address -ThrottleLimit 16 -RecordPath $Record | ForEach-Object { [Console]::Out.WriteLine($_.Id) }
[Console]::Out.WriteLine('done')
'@
    }

    It 'kill <_>: every channel the emulator holds is in the record as Active, Pending or MayExist' -ForEach (1..20) {
        $random = [System.Random]::new($_ * 7919)
        $killAfter = $random.Next(0, 120)
        $start = [System.Diagnostics.ProcessStartInfo]::new($script:pwsh)
        foreach ($argument in @('-NoProfile', '-NonInteractive', '-File', $script:killScript, '-Manifest', $script:builtManifest, '-Emulator', $script:emulator.BaseUri.AbsoluteUri, '-Address', $script:address.AbsoluteUri, '-Ids', $script:idsFile, '-Record', $script:killRecord)) {
            $start.ArgumentList.Add($argument)
        }
        $start.RedirectStandardOutput = $true
        $start.UseShellExecute = $false
        $child = [System.Diagnostics.Process]::Start($start)
        try {
            # Event-driven: read the channels the child writes, and kill it (SIGKILL) after a random number of them.
            $seen = 0
            $line = $child.StandardOutput.ReadLine()
            $line | Should -Be 'ready'
            while ($seen -lt $killAfter -and $null -ne ($line = $child.StandardOutput.ReadLine()) -and $line -ne 'done') {
                $seen++
            }
            if (-not $child.HasExited) {
                $child.Kill()
            }
            $child.WaitForExit()
        }
        finally {
            $child.Dispose()
        }

        $recorded = @{}
        foreach ($entry in @(Get-CalendarChannel -RecordPath $script:killRecord -All)) {
            $recorded[[string]$entry.ChannelId] = [string]$entry.State
        }
        $server = @(Get-EmulatorChannel -Emulator $script:emulator | Where-Object { $_.calendarId -like 'kill-*' })
        foreach ($channel in $server) {
            $recorded.ContainsKey([string]$channel.id) | Should -BeTrue -Because "channel $($channel.id) exists on the server"
            $recorded[[string]$channel.id] | Should -BeIn @('Active', 'Pending', 'MayExist', 'Stopped', 'Replaced')
        }
    }

    It 'reconciles afterwards: the emulator then holds exactly the channels the record calls Active' {
        $unsettled = @(Get-CalendarChannel -RecordPath $script:killRecord -State Pending, MayExist)
        $unsettled | Stop-CalendarChannel -RecordPath $script:killRecord -ErrorAction SilentlyContinue -ErrorVariable failures
        @($failures).Count | Should -Be 0

        @(Get-CalendarChannel -RecordPath $script:killRecord -State Pending, MayExist).Count | Should -Be 0
        $active = @(Get-CalendarChannel -RecordPath $script:killRecord -State Active | ForEach-Object { [string]$_.ChannelId } | Sort-Object)
        $onServer = @(Get-ActiveServerChannel -CalendarId $script:killCalendars | ForEach-Object { [string]$_.id } | Sort-Object)
        $onServer | Should -Be $active
    }
}

Describe 'Several writers at once' {
    It '4 processes x 250 watches into one record give exactly 1,000 records' {
        $record = New-RecordPath
        $calendar = New-TestCalendar -Prefix 'procs'
        $script = Join-Path -Path $TestDrive -ChildPath 'writer.ps1'
        Set-Content -LiteralPath $script -Encoding utf8 -Value @'
param([string]$Manifest, [string]$Emulator, [string]$Address, [string]$Calendar, [string]$Record)
$ErrorActionPreference = 'Stop'
Import-Module -Name $Manifest
Connect-CalendarWatch -Emulator $Emulator
$made = @(1..250 | ForEach-Object { $Calendar } | New-CalendarEventWatch -Address $Address -ThrottleLimit 16 -RecordPath $Record)
[Console]::Out.WriteLine($made.Count)
'@
        $children = foreach ($i in 1..4) {
            $start = [System.Diagnostics.ProcessStartInfo]::new($script:pwsh)
            foreach ($argument in @('-NoProfile', '-NonInteractive', '-File', $script, '-Manifest', $script:builtManifest, '-Emulator', $script:emulator.BaseUri.AbsoluteUri, '-Address', $script:address.AbsoluteUri, '-Calendar', $calendar, '-Record', $record)) {
                $start.ArgumentList.Add($argument)
            }
            $start.RedirectStandardOutput = $true
            $start.UseShellExecute = $false
            [System.Diagnostics.Process]::Start($start)
        }
        $counts = foreach ($child in $children) {
            $text = $child.StandardOutput.ReadToEnd()
            $child.WaitForExit()
            $child.ExitCode | Should -Be 0
            [int]$text.Trim()
            $child.Dispose()
        }

        ($counts | Measure-Object -Sum).Sum | Should -Be 1000
        @(Get-CalendarChannel -RecordPath $record -All).Count | Should -Be 1000
        @(Get-CalendarChannel -RecordPath $record -State Active).Count | Should -Be 1000
    }

    It '8 runspaces (ForEach-Object -Parallel) x 125 watches into one record give exactly 1,000 records' {
        $record = New-RecordPath
        $calendar = New-TestCalendar -Prefix 'runspaces'
        $connection = Get-CalendarWatchConnection
        $manifest = $script:builtManifest
        $address = $script:address
        $made = @(1..8 | ForEach-Object -ThrottleLimit 8 -Parallel {
                Import-Module -Name $using:manifest
                1..125 | ForEach-Object { $using:calendar } | New-CalendarEventWatch -Address $using:address -Connection $using:connection -RecordPath $using:record
            })

        $made.Count | Should -Be 1000
        @(Get-CalendarChannel -RecordPath $record -All).Count | Should -Be 1000
    }
}
