# Pester 5: Start-/Stop-CalendarWatchEmulator and the object they give, as a user's own tests drive it: start it with
# the command line's options, connect to it, make changes, set faults and the clock, read channels and deliveries.
# Everything is checked where the user sees it: the cmdlets' output and errors, HTTP answers, the emulator's lists.

BeforeAll {
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'

    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'CalendarWatch.TestHelpers.psm1') -Force
    Import-Module -Name (Get-BuiltModuleManifest -RepositoryRoot (Split-Path -Path $PSScriptRoot -Parent)) -Force -Global

    # One emulator for the cases that only need one: no auth, http addresses, channels to its own sink.
    $script:emulator = Start-CalendarWatchEmulator -NoAuth -AllowHttp
    Connect-CalendarWatch -Emulator $script:emulator

    function New-TestCalendar {
        param([Parameter(Mandatory)][object]$Emulator)
        $id = 'emu-{0}@example.com' -f [guid]::NewGuid().ToString('N').Substring(0, 10)
        $Emulator.NewCalendar($id)
        $id
    }

    function Test-PortFree {
        param([Parameter(Mandatory)][int]$Port)
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, $Port)
        try { $listener.Start(); $true } catch { $false } finally { $listener.Stop() }
    }

    # The innermost exception's message: a .NET method called from PowerShell comes wrapped in a MethodInvocationException.
    function Get-InnerMessage {
        param([Parameter(Mandatory)][scriptblock]$ScriptBlock)
        try {
            & $ScriptBlock
        }
        catch {
            $failure = $_.Exception
            while ($null -ne $failure.InnerException -and $failure -is [System.Management.Automation.MethodInvocationException]) { $failure = $failure.InnerException }
            return [pscustomobject]@{ Type = $failure.GetType().FullName; Message = $failure.Message }
        }
        throw 'It did not fail.'
    }
}

AfterAll {
    Stop-CalendarWatchEmulator
    Disconnect-CalendarWatch
    Remove-Module -Name CalendarWatch -ErrorAction SilentlyContinue
}

Describe 'Start-CalendarWatchEmulator' {
    It 'listens on a free loopback port and says where: the address answers HTTP' {
        $emulator = $script:emulator
        $emulator.Address.Host | Should -BeIn @('127.0.0.1', 'localhost')
        $emulator.Port | Should -BeGreaterThan 0
        $emulator.Address.Port | Should -Be $emulator.Port
        $emulator.TokenUri.AbsoluteUri | Should -Be ($emulator.Address.AbsoluteUri + 'token')
        $emulator.SinkAddress.AbsoluteUri | Should -Be ($emulator.Address.AbsoluteUri + 'emulator/v1/sink')
        $emulator.IsRunning | Should -BeTrue
        $emulator.NoAuth | Should -BeTrue
        $emulator.AllowHttp | Should -BeTrue
        "$emulator" | Should -Be $emulator.Address.AbsoluteUri
        (Invoke-RestMethod -Uri ([Uri]::new($emulator.Address, 'emulator/v1/faults'))).retryAfterSeconds | Should -Be 1
    }

    It 'is what Connect-CalendarWatch -Emulator takes, and a watch through it reaches the emulator' {
        $connection = Connect-CalendarWatch -Emulator $script:emulator -NoStore
        $connection.Kind | Should -Be 'Emulator'
        $connection.Endpoint | Should -Be $script:emulator.Address.AbsoluteUri

        $calendar = New-TestCalendar -Emulator $script:emulator
        $channel = $calendar | New-CalendarEventWatch -Address $script:emulator.SinkAddress -Connection $connection -NoRecord
        $server = @($script:emulator.GetChannels() | Where-Object Id -EQ $channel.Id)
        $server.Count | Should -Be 1
        $server[0].CalendarId | Should -Be $calendar
        $server[0].ResourceId | Should -Be $channel.ResourceId
        $server[0].State | Should -Be 'active'
    }

    It 'takes -Port, and a port already taken is a clear error naming it' {
        $port = Get-FreeTcpPort
        $first = Start-CalendarWatchEmulator -Port $port -NoAuth
        try {
            $first.Port | Should -Be $port
            $failure = { Start-CalendarWatchEmulator -Port $port -NoAuth } | Should -Throw -PassThru
            $failure.FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.EmulatorPortUnavailable*'
            $failure.Exception.Message | Should -BeLike "*127.0.0.1:$port*-Port*"
        }
        finally {
            Stop-CalendarWatchEmulator -Emulator $first
        }
    }

    It 'refuses http webhook addresses without -AllowHttp, as Google does' {
        $emulator = Start-CalendarWatchEmulator -NoAuth
        try {
            $calendar = New-TestCalendar -Emulator $emulator
            $connection = Connect-CalendarWatch -Emulator $emulator -NoStore
            $calendar | New-CalendarEventWatch -Address 'http://127.0.0.1:9/hook' -Connection $connection -NoRecord -ErrorVariable failures -ErrorAction SilentlyContinue
            $failures.Count | Should -Be 1
            "$($failures[0])" | Should -BeLike '*HTTPS*'
            $emulator.GetChannels().Count | Should -Be 0
        }
        finally {
            Stop-CalendarWatchEmulator -Emulator $emulator
        }
    }

    It 'checks tokens without -NoAuth; NewAccessToken gives one it accepts' {
        $emulator = Start-CalendarWatchEmulator -AllowHttp
        try {
            $emulator.NoAuth | Should -BeFalse
            $tokenless = Connect-CalendarWatch -Emulator $emulator -NoStore
            'user@example.com' | New-CalendarEventWatch -Address $emulator.SinkAddress -Connection $tokenless -NoRecord -ErrorVariable failures -ErrorAction SilentlyContinue
            $failures.Count | Should -Be 1
            $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.EmulatorRequiresAuth*'

            $token = $emulator.NewAccessToken('alice@example.com')
            $token | Should -BeOfType [securestring]
            $alice = Connect-CalendarWatch -AccessToken $token -ApiEndpoint $emulator.ApiEndpoint -NoStore
            $channel = 'alice@example.com' | New-CalendarEventWatch -Address $emulator.SinkAddress -Connection $alice -NoRecord
            @($emulator.GetChannels()).Owner | Should -Be 'alice@example.com'
            $channel.CalendarId | Should -Be 'alice@example.com'
        }
        finally {
            Stop-CalendarWatchEmulator -Emulator $emulator
        }
    }

    It 'starts with -LatencyMs, -MaxLifetimeDays and -Fault in force' {
        $emulator = Start-CalendarWatchEmulator -NoAuth -AllowHttp -LatencyMs 20 -MaxLifetimeDays 2 -Fault @{ Error503Rate = 1; Seed = 7 }
        try {
            $faults = $emulator.GetFaults()
            $faults.Latency | Should -Be ([TimeSpan]::FromMilliseconds(20))
            $faults.Error503Rate | Should -Be 1
            $faults.Seed | Should -Be 7

            $calendar = New-TestCalendar -Emulator $emulator
            $connection = Connect-CalendarWatch -Emulator $emulator -MaxRetry 0 -NoStore
            $calendar | New-CalendarEventWatch -Address $emulator.SinkAddress -Connection $connection -NoRecord -ErrorVariable failures -ErrorAction SilentlyContinue
            $failures.Count | Should -Be 1
            "$($failures[0])" | Should -BeLike '*503*'

            $emulator.ClearFaults()
            $channel = $calendar | New-CalendarEventWatch -Address $emulator.SinkAddress -TimeToLive (New-TimeSpan -Days 10) -Connection $connection -NoRecord -WarningAction SilentlyContinue
            ($channel.Expiration - $emulator.Now).TotalDays | Should -BeLessOrEqual 2
        }
        finally {
            Stop-CalendarWatchEmulator -Emulator $emulator
        }
    }

    It 'refuses a fault knob it does not know, naming it and the ones it knows' {
        $failure = { Start-CalendarWatchEmulator -Fault @{ Eror503Rate = 0.5 } } | Should -Throw -PassThru
        $failure.FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.InvalidEmulatorFault*'
        $failure.Exception.Message | Should -BeLike "*'Eror503Rate' is not a fault knob*Error503Rate*"

        $failure = { Start-CalendarWatchEmulator -Fault @{ Error500Rate = 3 } } | Should -Throw -PassThru
        $failure.FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.InvalidEmulatorFault*'
        $failure.Exception.Message | Should -BeLike '*Error500Rate must be between 0 and 1*'
    }
}

Describe 'Driving the emulator through its object' {
    BeforeAll {
        $script:calendar = New-TestCalendar -Emulator $script:emulator
        $script:events = $script:calendar | New-CalendarEventWatch -Address $script:emulator.SinkAddress -NoRecord
        $script:acl = $script:calendar | New-CalendarAclWatch -Address $script:emulator.SinkAddress -NoRecord

        function Get-Notification {
            # The notifications of one channel once $Count of them had an answer (a signalled wait in the emulator).
            param([Parameter(Mandatory)][string]$ChannelId, [Parameter(Mandatory)][int]$Count)
            @($script:emulator.WaitForDeliveries($Count, [TimeSpan]::FromSeconds(30), $ChannelId) | Where-Object ChannelId -EQ $ChannelId)
        }
    }

    It 'delivers each new channel its sync message to the sink' {
        foreach ($channel in $script:events, $script:acl) {
            $sync = @(Get-Notification -ChannelId $channel.Id -Count 1)
            $sync.Count | Should -Be 1
            $sync[0].MessageNumber | Should -Be 1
            $sync[0].ResourceState | Should -Be 'sync'
            $sync[0].StatusCode | Should -Be 200
            $sync[0].Outcome | Should -Be 'delivered'
            $sync[0].Headers['X-Goog-Channel-ID'] | Should -Be $channel.Id
        }
    }

    It 'inserts, patches and deletes events: each one an exists message to the events channel only' {
        $eventId = $script:emulator.InsertEvent($script:calendar, 'Planning')
        $eventId | Should -Not -BeNullOrEmpty
        $script:emulator.PatchEvent($script:calendar, $eventId, 'Planning (moved)')
        $script:emulator.RemoveEvent($script:calendar, $eventId)

        $messages = @(Get-Notification -ChannelId $script:events.Id -Count 4)
        $messages.Count | Should -Be 4
        @($messages | Sort-Object MessageNumber).ResourceState | Should -Be @('sync', 'exists', 'exists', 'exists')
        @($script:emulator.GetDeliveries() | Where-Object ChannelId -EQ $script:acl.Id).Count | Should -Be 1
    }

    It 'adds and removes ACL rules: each one an exists message to the acl channel' {
        $ruleId = $script:emulator.AddAclRule($script:calendar, 'reader', 'user', 'bob@example.com')
        $ruleId | Should -Be 'user:bob@example.com'
        $script:emulator.RemoveAclRule($script:calendar, $ruleId)

        $messages = @(Get-Notification -ChannelId $script:acl.Id -Count 3)
        @($messages | Sort-Object MessageNumber).ResourceState | Should -Be @('sync', 'exists', 'exists')
        @($messages | Sort-Object MessageNumber).MessageNumber | Should -Be @(1, 2, 3)
    }

    It 'takes event ids and types, and refuses what the API would refuse, saying why' {
        $script:emulator.InsertEvent($script:calendar, 'Focus', 'focusTime', 'fixed-id-1') | Should -Be 'fixed-id-1'
        $duplicate = Get-InnerMessage { $script:emulator.InsertEvent($script:calendar, 'Again', $null, 'fixed-id-1') }
        $duplicate.Type | Should -Be 'System.InvalidOperationException'
        $duplicate.Message | Should -BeLike '*409 duplicate*'

        (Get-InnerMessage { $script:emulator.InsertEvent($script:calendar, 'x', 'meeting') }).Message | Should -BeLike '*400 invalid*eventType*'
        (Get-InnerMessage { $script:emulator.PatchEvent($script:calendar, 'no-such-event', 'x') }).Message | Should -BeLike '*404 notFound*'
        (Get-InnerMessage { $script:emulator.AddAclRule($script:calendar, 'boss', 'user', 'bob@example.com') }).Message | Should -BeLike '*Invalid role: boss*'

        $unknown = Get-InnerMessage { $script:emulator.InsertEvent('nobody@example.com', 'x') }
        $unknown.Type | Should -Be 'System.ArgumentException'
        $unknown.Message | Should -BeLike "*no calendar 'nobody@example.com'*NewCalendar*"
    }

    It 'sets the fault knobs at run time from a hashtable, and refuses a bad one without changing anything' {
        $script:emulator.SetFaults(@{ UserRateLimit = 1; RateLimitWindowSeconds = 3600; userRateLimitStatus = '429'; RetryAfterSeconds = 5 })
        try {
            $faults = $script:emulator.GetFaults()
            $faults.UserRateLimit | Should -Be 1
            $faults.RateLimitWindow | Should -Be ([TimeSpan]::FromHours(1))
            $faults.UserRateLimitStatus | Should -Be '429'

            $bad = Get-InnerMessage { $script:emulator.SetFaults(@{ Latency = 50 }) }
            $bad.Message | Should -BeLike "*'Latency' takes a ``[TimeSpan``]*LatencyMs*"
            $script:emulator.GetFaults().UserRateLimit | Should -Be 1

            # The limit is in force: at most one request in the window (earlier ones of this caller count too), so the
            # second of two in a row is refused with 429 and the Retry-After set.
            $uri = [Uri]::new($script:emulator.Address, "calendar/v3/calendars/$([Uri]::EscapeDataString($script:calendar))/events")
            $null = Invoke-WebRequest -Method Post -Uri $uri -ContentType 'application/json' -Body '{"summary":"a"}' -SkipHttpErrorCheck
            $refused = Invoke-WebRequest -Method Post -Uri $uri -ContentType 'application/json' -Body '{"summary":"b"}' -SkipHttpErrorCheck
            $refused.StatusCode | Should -Be 429
            $refused.Headers['Retry-After'] | Should -Be '5'
        }
        finally {
            $script:emulator.ClearFaults()
        }
        $script:emulator.GetFaults().UserRateLimit | Should -BeNullOrEmpty
    }

    It 'moves the clock: a channel expires on it and the emulator says so' {
        $calendar = New-TestCalendar -Emulator $script:emulator
        $channel = $calendar | New-CalendarEventWatch -Address $script:emulator.SinkAddress -TimeToLive (New-TimeSpan -Hours 1) -NoRecord
        $before = $script:emulator.Now
        $script:emulator.AdvanceClock([TimeSpan]::FromHours(2))
        try {
            ($script:emulator.Now - $before).TotalHours | Should -BeGreaterOrEqual 2
            @($script:emulator.GetChannels() | Where-Object Id -EQ $channel.Id).State | Should -Be 'expired'
        }
        finally {
            $script:emulator.AdvanceClock([TimeSpan]::FromHours(-2))
        }

        $script:emulator.SetClock([DateTimeOffset]'2030-01-01T00:00:00Z')
        $script:emulator.Now.Year | Should -Be 2030
        (Get-InnerMessage { $script:emulator.SetClock([DateTimeOffset]'9999-01-01T00:00:00Z') }).Type | Should -Be 'System.ArgumentOutOfRangeException'
    }

    It 'gives up a wait after its timeout, saying how many notifications had an answer' {
        $failure = Get-InnerMessage { $script:emulator.WaitForDeliveries(1, [TimeSpan]::FromMilliseconds(50), 'no-such-channel') }
        $failure.Type | Should -Be 'System.TimeoutException'
        $failure.Message | Should -BeLike "0 of the 1 notifications waited for (channel 'no-such-channel')*receiver*"
    }

    It 'counts requests, and Reset forgets channels, deliveries and calendars' {
        $emulator = Start-CalendarWatchEmulator -NoAuth -AllowHttp
        try {
            $calendar = New-TestCalendar -Emulator $emulator
            $connection = Connect-CalendarWatch -Emulator $emulator -NoStore
            $null = $calendar | New-CalendarEventWatch -Address $emulator.SinkAddress -Connection $connection -NoRecord
            $emulator.GetStats().RequestsByMethod['calendar.events.watch'] | Should -Be 1

            $emulator.Reset()
            $emulator.GetChannels().Count | Should -Be 0
            $emulator.GetDeliveries().Count | Should -Be 0
            (Get-InnerMessage { $emulator.InsertEvent($calendar, 'x') }).Type | Should -Be 'System.ArgumentException'
        }
        finally {
            Stop-CalendarWatchEmulator -Emulator $emulator
        }
    }
}

Describe "Google's own Node client" {
    # tests/NodeClient/check.mjs makes every call the emulator models through @googleapis/calendar and prints each
    # answer (times and generated ids masked); expected.jsonl holds what the emulator answered before it could run
    # inside PowerShell. Skipped where Node.js and npm are not installed.
    It 'gets the same answers from the emulator as before' -Skip:($null -eq (Get-Command -Name node, npm -ErrorAction SilentlyContinue | Select-Object -Skip 1)) {
        $folder = Join-Path -Path $PSScriptRoot -ChildPath 'NodeClient'
        if (-not (Test-Path -LiteralPath ([System.IO.Path]::Combine($folder, 'node_modules', '@googleapis', 'calendar')))) {
            $null = & npm ci --prefix $folder --no-audit --no-fund
            $LASTEXITCODE | Should -Be 0 -Because 'npm ci installs the pinned @googleapis/calendar'
        }

        $emulator = Start-CalendarWatchEmulator -NoAuth -AllowHttp
        try {
            $answers = @(& node (Join-Path -Path $folder -ChildPath 'check.mjs') $emulator.Address.AbsoluteUri)
            $LASTEXITCODE | Should -Be 0
        }
        finally {
            Stop-CalendarWatchEmulator -Emulator $emulator
        }

        $expected = @(Get-Content -LiteralPath (Join-Path -Path $folder -ChildPath 'expected.jsonl'))
        $answers.Count | Should -Be $expected.Count
        for ($i = 0; $i -lt $expected.Count; $i++) {
            $answers[$i] | Should -Be $expected[$i]
        }
    }
}

Describe 'Stop-CalendarWatchEmulator' {
    It 'stops the emulator piped in and frees its port at once; its methods then say it was stopped' {
        $emulator = Start-CalendarWatchEmulator -NoAuth
        $port = $emulator.Port
        $emulator | Stop-CalendarWatchEmulator
        $emulator.IsRunning | Should -BeFalse
        Test-PortFree -Port $port | Should -BeTrue
        (Get-InnerMessage { $emulator.NewCalendar('a@example.com') }).Message | Should -BeLike '*was stopped*Start-CalendarWatchEmulator*'
        { Stop-CalendarWatchEmulator -Emulator $emulator } | Should -Not -Throw
    }

    It 'leaves it running under -WhatIf' {
        $emulator = Start-CalendarWatchEmulator -NoAuth
        try {
            Stop-CalendarWatchEmulator -Emulator $emulator -WhatIf
            $emulator.IsRunning | Should -BeTrue
        }
        finally {
            Stop-CalendarWatchEmulator -Emulator $emulator
        }
    }

    It 'stops nothing for an empty pipeline, and every emulator this process started without input' {
        $one = Start-CalendarWatchEmulator -NoAuth
        $two = Start-CalendarWatchEmulator -NoAuth
        @() | Stop-CalendarWatchEmulator
        $one.IsRunning | Should -BeTrue

        Stop-CalendarWatchEmulator
        $one.IsRunning | Should -BeFalse
        $two.IsRunning | Should -BeFalse
        $script:emulator.IsRunning | Should -BeFalse

        # The rest of the file's emulator is gone too: start it again for anything that follows.
        $script:emulator = Start-CalendarWatchEmulator -NoAuth -AllowHttp
    }
}
