# Pester 5: receiving notifications — Receive-CalendarNotification as a webhook receiver the emulator delivers to, and
# ConvertFrom-CalendarNotification with the header shapes Pode and Azure Functions give (./build.ps1 -Task Test builds first).

BeforeAll {
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'

    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'CalendarWatch.TestHelpers.psm1') -Force
    $script:session = Start-TestSession -RepositoryRoot (Split-Path -Path $PSScriptRoot -Parent)
    $script:emulator = $script:session.Emulator

    function New-TestCalendar {
        $id = 'recv-{0}@example.com' -f [guid]::NewGuid().ToString('N').Substring(0, 10)
        New-EmulatorCalendar -Emulator $script:emulator -Id $id
        $id
    }

    function Add-CalendarEvent {
        # A change on the calendar through the emulator's Calendar API: every live events channel on it is notified.
        param([Parameter(Mandatory)][string]$CalendarId)
        $uri = [Uri]::new($script:emulator.BaseUri, 'calendar/v3/calendars/{0}/events' -f [Uri]::EscapeDataString($CalendarId))
        $null = Invoke-RestMethod -Method Post -Uri $uri -ContentType 'application/json' -Body '{"summary":"change"}'
    }

    function Start-Receiver {
        <#
        Runs Receive-CalendarNotification in a runspace of its own (as a user's second console would) with the given
        parameters plus -Port. Returns once it listens: its "Listening on" verbose line sets a signal (no polling).
        Output, Error and Warning collect what it writes; Stop-Receiver is Ctrl+C.
        #>
        param([hashtable]$Parameters = @{}, [string]$Pipeline = '')

        $port = Get-FreeTcpPort
        $ready = [System.Threading.ManualResetEventSlim]::new($false)
        # Released once per notification written and per duplicate left out (its verbose line): what tests wait on.
        $seen = [System.Threading.SemaphoreSlim]::new(0)
        $dropped = [System.Collections.Concurrent.ConcurrentQueue[string]]::new()
        $powershell = [PowerShell]::Create()
        $script = @'
param($Manifest, $Port, $Parameters, $Ready, $Seen, $Dropped)
Import-Module -Name $Manifest
Receive-CalendarNotification -Port $Port @Parameters -Verbose 4>&1 | ForEach-Object {
    if ($_ -is [System.Management.Automation.VerboseRecord]) {
        if ($_.Message -like 'Listening on*') { $Ready.Set() }
        elseif ($_.Message -like '*repeats what its successor*') { $Dropped.Enqueue($_.Message); $null = $Seen.Release() }
    }
    else { $_; $null = $Seen.Release() }
}{PIPELINE}
'@.Replace('{PIPELINE}', $(if ($Pipeline) { " | $Pipeline" } else { '' }))
        $null = $powershell.AddScript($script).AddArgument($script:session.Manifest).AddArgument($port).AddArgument($Parameters).AddArgument($ready).AddArgument($seen).AddArgument($dropped)
        $output = [System.Management.Automation.PSDataCollection[psobject]]::new()
        $handle = $powershell.BeginInvoke([System.Management.Automation.PSDataCollection[psobject]]$null, $output)
        $receiver = [pscustomobject]@{
            PowerShell = $powershell
            Handle     = $handle
            Port       = $port
            Address    = [Uri]"http://127.0.0.1:$port/hook"
            Output     = $output
            Seen       = $seen
            Dropped    = $dropped
            Error      = $powershell.Streams.Error
            Warning    = $powershell.Streams.Warning
        }
        # Listening, or ended (a failure to start): whichever comes first.
        $null = [System.Threading.WaitHandle]::WaitAny(@($ready.WaitHandle, $handle.AsyncWaitHandle), 30000)
        if (-not $ready.IsSet) {
            throw "The receiver did not start: $($powershell.Streams.Error | Out-String) $($powershell.InvocationStateInfo.Reason)"
        }

        $receiver
    }

    function Wait-Receiver {
        # Waits for the receiver to end by itself (-Count, -Timeout, Select-Object -First); false when it did not.
        param([Parameter(Mandatory)][object]$Receiver, [int]$Milliseconds = 30000)
        $Receiver.Handle.AsyncWaitHandle.WaitOne($Milliseconds)
    }

    function Wait-Seen {
        # Waits (signalled) until the receiver has written or left out $Count notifications in all; false when they did not come.
        param([Parameter(Mandatory)][object]$Receiver, [Parameter(Mandatory)][int]$Count)
        for ($i = 0; $i -lt $Count; $i++) {
            if (-not $Receiver.Seen.Wait(30000)) { return $false }
        }
        $true
    }

    function Stop-Receiver {
        # What Ctrl+C does: PowerShell's StopProcessing.
        param([Parameter(Mandatory)][object]$Receiver)
        $Receiver.PowerShell.Stop()
        $Receiver.PowerShell.Dispose()
    }

    function Send-Notification {
        # A POST like Google's to the receiver, with the given X-Goog-* headers; returns the status code.
        param([Parameter(Mandatory)][Uri]$Address, [Parameter(Mandatory)][hashtable]$Headers)
        (Invoke-WebRequest -Method Post -Uri $Address -Headers $Headers -Body '' -SkipHttpErrorCheck -UserAgent 'APIs-Google').StatusCode
    }

    function New-Header {
        param([string]$ChannelId = 'not-recorded-1', [string]$Number = '1', [string]$State = 'sync', [string]$Token, [string]$CalendarId = 'x@example.com')
        $headers = @{
            'X-Goog-Channel-ID'         = $ChannelId
            'X-Goog-Message-Number'     = $Number
            'X-Goog-Resource-State'     = $State
            'X-Goog-Resource-ID'        = 'abcdefghijklmnopqrstuvwxyz0'
            'X-Goog-Resource-URI'       = 'https://www.googleapis.com/calendar/v3/calendars/{0}/events?alt=json' -f [Uri]::EscapeDataString($CalendarId)
            'X-Goog-Channel-Expiration' = 'Tue, 08 Dec 2026 10:00:00 GMT'
        }
        if ($PSBoundParameters.ContainsKey('Token')) { $headers['X-Goog-Channel-Token'] = $Token }
        $headers
    }

    function Test-PortFree {
        param([Parameter(Mandatory)][int]$Port)
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, $Port)
        try { $listener.Start(); $true } catch { $false } finally { $listener.Stop() }
    }
}

AfterAll {
    Stop-TestSession -Session $script:session
}

Describe 'Receive-CalendarNotification' {
    It 'writes the sync and a change of a recorded channel, with its token matched and the calendar read from the URI' {
        $calendar = New-TestCalendar
        $receiver = Start-Receiver -Parameters @{ Count = 2; Timeout = (New-TimeSpan -Seconds 60) }
        $channel = New-CalendarEventWatch -CalendarId $calendar -Address $receiver.Address -Token 'tenant=7'
        Add-CalendarEvent -CalendarId $calendar

        Wait-Receiver -Receiver $receiver | Should -BeTrue
        $notes = @($receiver.Output)
        $notes.Count | Should -Be 2
        $notes[0].PSObject.TypeNames[0] | Should -Be 'CalendarWatch.Notification'
        $notes.ResourceState | Should -Be @('sync', 'exists')
        $notes.MessageNumber | Should -Be @(1, 2)
        $notes[1].ChannelId | Should -Be $channel.Id
        $notes[1].ResourceId | Should -Be $channel.ResourceId
        $notes[1].CalendarId | Should -Be $calendar
        $notes[1].Resource | Should -Be 'Events'
        $notes[1].TokenMatched | Should -BeTrue
        $notes[1].IsKnownChannel | Should -BeTrue
        $notes[1].ChannelExpiration.ToString() | Should -Be ([DateTimeOffset]$channel.Expiration.ToString()).ToString('yyyy-MM-ddTHH:mm:ssZ')
        $notes[1].ReceivedAt.ToString() | Should -Match '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$'
        @($receiver.Error).Count | Should -Be 0
        $deliveries = @(Get-EmulatorDelivery -Emulator $script:emulator | Where-Object { $_.channelId -eq $channel.Id })
        $deliveries.statusCode | Sort-Object -Unique | Should -Be 200
        Test-PortFree -Port $receiver.Port | Should -BeTrue
        $receiver.PowerShell.Dispose()
    }

    It 'refuses a wrong or missing channel token with 403 and one error, and goes on' {
        $channel = New-CalendarEventWatch -CalendarId (New-TestCalendar) -Address 'http://127.0.0.1:9/unused' -Token 'right-token'
        $receiver = Start-Receiver -Parameters @{ Count = 1 }

        Send-Notification -Address $receiver.Address -Headers (New-Header -ChannelId $channel.Id -Token 'wrong-token') | Should -Be 403
        Send-Notification -Address $receiver.Address -Headers (New-Header -ChannelId $channel.Id) | Should -Be 403
        Send-Notification -Address $receiver.Address -Headers (New-Header -ChannelId $channel.Id -Token 'right-token') | Should -Be 200

        Wait-Receiver -Receiver $receiver | Should -BeTrue
        @($receiver.Output).Count | Should -Be 1
        $receiver.Output[0].TokenMatched | Should -BeTrue
        @($receiver.Error).Count | Should -Be 2
        $receiver.Error[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.ChannelTokenMismatch*'
        $receiver.Error[0].CategoryInfo.Category | Should -Be 'PermissionDenied'
        $receiver.Error[0].TargetObject | Should -Be $channel.Id
        # The tokens themselves never appear.
        ($receiver.Error | Out-String) | Should -Not -Match 'right-token|wrong-token'
        $receiver.PowerShell.Dispose()
    }

    It 'accepts a channel the record does not know, says so once, and writes it as unknown' {
        $receiver = Start-Receiver -Parameters @{ Count = 2 }
        $id = 'stranger-' + [guid]::NewGuid().ToString('N').Substring(0, 8)

        Send-Notification -Address $receiver.Address -Headers (New-Header -ChannelId $id) | Should -Be 200
        Send-Notification -Address $receiver.Address -Headers (New-Header -ChannelId $id -Number 2 -State exists) | Should -Be 200

        Wait-Receiver -Receiver $receiver | Should -BeTrue
        @($receiver.Output).IsKnownChannel | Should -Be @($false, $false)
        $receiver.Output[0].TokenMatched | Should -BeNullOrEmpty
        @($receiver.Warning).Count | Should -Be 1
        $receiver.Warning[0].Message | Should -Match ([regex]::Escape($id))
        $receiver.Warning[0].Message | Should -Match 'Stop-CalendarChannel'
        $receiver.PowerShell.Dispose()
    }

    It 'answers malformed headers 400 with one clear error naming each header, and goes on' {
        $receiver = Start-Receiver -Parameters @{ Count = 1; NoRecord = $true }
        $bad = New-Header -Number 'one' -State 'changed'
        $bad.Remove('X-Goog-Resource-ID')

        Send-Notification -Address $receiver.Address -Headers $bad | Should -Be 400
        (Invoke-WebRequest -Method Get -Uri $receiver.Address -SkipHttpErrorCheck).StatusCode | Should -Be 405
        (Invoke-WebRequest -Method Post -Uri $receiver.Address -Headers (New-Header) -Body ('x' * 70000) -SkipHttpErrorCheck).StatusCode | Should -Be 413
        Send-Notification -Address $receiver.Address -Headers (New-Header) | Should -Be 200

        Wait-Receiver -Receiver $receiver | Should -BeTrue
        @($receiver.Output).Count | Should -Be 1
        @($receiver.Error).Count | Should -Be 1
        $receiver.Error[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.MalformedNotification*'
        $message = $receiver.Error[0].Exception.Message
        $message | Should -Match "X-Goog-Message-Number 'one' is not a positive whole number"
        $message | Should -Match "X-Goog-Resource-State 'changed' is not sync, exists or not_exists"
        $message | Should -Match 'X-Goog-Resource-ID is missing'
        $receiver.PowerShell.Dispose()
    }

    It 'writes each change once during a renewal overlap, the successor''s copy (-IncludeDuplicate writes both)' {
        $calendar = New-TestCalendar
        $plain = Start-Receiver -Parameters @{ Timeout = (New-TimeSpan -Seconds 60) }
        $all = Start-Receiver -Parameters @{ Timeout = (New-TimeSpan -Seconds 60); IncludeDuplicate = $true }
        try {
            # Two channels to each receiver; each pair renewed so that the old one keeps delivering (its stop found a
            # wrong ResourceId), as when a renewal's stop fails: Google then delivers every change on both.
            $renewed = foreach ($receiver in $plain, $all) {
                $old = New-CalendarEventWatch -CalendarId $calendar -Address $receiver.Address
                $row = $old | Select-Object *
                $row.ResourceId = 'not-the-resource-id'
                $new = $row | Update-CalendarChannel
                [pscustomobject]@{ Old = $old; New = $new }
            }
            @(Get-EmulatorChannel -Emulator $script:emulator | Where-Object { $_.calendarId -eq $calendar -and $_.state -eq 'active' }).Count | Should -Be 4

            Add-CalendarEvent -CalendarId $calendar
            # Each receiver: two syncs, then the change from both channels (one of them left out by the first).
            Wait-Seen -Receiver $plain -Count 4 | Should -BeTrue
            Wait-Seen -Receiver $all -Count 4 | Should -BeTrue
        }
        finally {
            Stop-Receiver -Receiver $plain
            Stop-Receiver -Receiver $all
        }

        $changes = @($plain.Output | Where-Object ResourceState -eq 'exists')
        $changes.Count | Should -Be 1
        @($plain.Dropped).Count | Should -Be 1
        $changes[0].ChannelId | Should -Be $renewed[0].New.Id
        $changes[0].Replaces | Should -Be $renewed[0].Old.Id

        $both = @($all.Output | Where-Object ResourceState -eq 'exists')
        $both.Count | Should -Be 2
        ($both | Where-Object IsDuplicate).ChannelId | Should -Be $renewed[1].Old.Id
        ($both | Where-Object IsDuplicate).ReplacedBy | Should -Be $renewed[1].New.Id
    }

    It 'fills in the ResourceId of a channel whose watch answer was lost, from its sync message' {
        $calendar = New-TestCalendar
        $receiver = Start-Receiver -Parameters @{ Count = 1 }
        Set-EmulatorFault -Emulator $script:emulator -Fault @{ responseLostRate = 1 }
        try {
            $null = New-CalendarEventWatch -CalendarId $calendar -Address $receiver.Address -ErrorVariable failed -ErrorAction SilentlyContinue
        }
        finally {
            Set-EmulatorFault -Emulator $script:emulator -Fault @{}
        }

        $failed[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.ChannelMayExist*'
        Wait-Receiver -Receiver $receiver | Should -BeTrue
        $sync = $receiver.Output[0]
        $sync.IsKnownChannel | Should -BeTrue
        $sync.ChannelState | Should -BeIn @('Pending', 'MayExist')
        $record = Get-CalendarChannel -Id $sync.ChannelId
        $record.State | Should -Be 'MayExist'
        $record.ResourceId | Should -Be $sync.ResourceId
        $receiver.PowerShell.Dispose()
    }

    It 'frees the port at once on Ctrl+C' {
        $receiver = Start-Receiver
        Test-PortFree -Port $receiver.Port | Should -BeFalse

        Stop-Receiver -Receiver $receiver

        Test-PortFree -Port $receiver.Port | Should -BeTrue
    }

    It 'ends when Select-Object -First has what it needs, and frees the port' {
        $receiver = Start-Receiver -Parameters @{ NoRecord = $true } -Pipeline 'Select-Object -First 1'

        Send-Notification -Address $receiver.Address -Headers (New-Header) | Should -Be 200

        Wait-Receiver -Receiver $receiver | Should -BeTrue
        @($receiver.Output).Count | Should -Be 1
        Test-PortFree -Port $receiver.Port | Should -BeTrue
        $receiver.PowerShell.Dispose()
    }

    It 'stops after -Count, once the last one is answered, and frees the port' {
        $receiver = Start-Receiver -Parameters @{ NoRecord = $true; Count = 1 }
        Send-Notification -Address $receiver.Address -Headers (New-Header) | Should -Be 200
        Wait-Receiver -Receiver $receiver | Should -BeTrue
        @($receiver.Output).Count | Should -Be 1
        Test-PortFree -Port $receiver.Port | Should -BeTrue
        $receiver.PowerShell.Dispose()
    }

    It 'stops after -Timeout, saying how many of -Count came' {
        $receiver = Start-Receiver -Parameters @{ NoRecord = $true; Count = 3; Timeout = [TimeSpan]::FromMilliseconds(300) }
        Wait-Receiver -Receiver $receiver | Should -BeTrue
        @($receiver.Output).Count | Should -Be 0
        $receiver.Warning[0].Message | Should -Match '0 of 3'
        Test-PortFree -Port $receiver.Port | Should -BeTrue
        $receiver.PowerShell.Dispose()
    }

    It 'refuses a port in use with a clear error' {
        $holder = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $holder.Start()
        try {
            $port = ([System.Net.IPEndPoint]$holder.LocalEndpoint).Port
            { Receive-CalendarNotification -Port $port -NoRecord } | Should -Throw -ErrorId 'CalendarWatch.ListenFailed*'
        }
        finally {
            $holder.Stop()
        }
    }
}

Describe 'ConvertFrom-CalendarNotification' {
    BeforeAll {
        $script:recorded = New-CalendarEventWatch -CalendarId (New-TestCalendar) -Address 'http://127.0.0.1:9/unused' -Token 'pode-token'
    }

    It 'reads Azure Functions'' $Request.Headers (a hashtable with lower-case keys)' {
        $headers = @{}
        foreach ($entry in (New-Header -ChannelId $script:recorded.Id -Token 'pode-token' -CalendarId $script:recorded.CalendarId).GetEnumerator()) {
            $headers[$entry.Key.ToLowerInvariant()] = $entry.Value
        }

        $notification = ConvertFrom-CalendarNotification -Headers $headers

        $notification.ChannelId | Should -Be $script:recorded.Id
        $notification.IsKnownChannel | Should -BeTrue
        $notification.TokenMatched | Should -BeTrue
        $notification.CalendarId | Should -Be $script:recorded.CalendarId
        $notification.ResourceState | Should -Be 'sync'
    }

    It 'reads Pode''s $WebEvent.Request piped in (its Headers property, a hashtable)' {
        $request = [pscustomobject]@{ Headers = (New-Header -ChannelId $script:recorded.Id -Token 'pode-token' -Number 4 -State exists) }

        $notification = $request | ConvertFrom-CalendarNotification

        $notification.MessageNumber | Should -Be 4
        $notification.ResourceState | Should -Be 'exists'
    }

    It 'reads an HttpListener NameValueCollection' {
        $collection = [System.Collections.Specialized.NameValueCollection]::new()
        foreach ($entry in (New-Header -ChannelId $script:recorded.Id -Token 'pode-token').GetEnumerator()) { $collection.Add($entry.Key, $entry.Value) }

        (ConvertFrom-CalendarNotification -Headers $collection).ChannelId | Should -Be $script:recorded.Id
    }

    It 'makes the same checks: a wrong token and malformed headers are errors, and the other items go on' {
        $rows = @(
            [pscustomobject]@{ Headers = (New-Header -ChannelId $script:recorded.Id -Token 'guess') }
            [pscustomobject]@{ Headers = @{ 'x-goog-channel-id' = 'c1' } }
            [pscustomobject]@{ Headers = (New-Header -ChannelId $script:recorded.Id -Token 'pode-token') }
        )

        $output = @($rows | ConvertFrom-CalendarNotification -ErrorVariable failures -ErrorAction SilentlyContinue)

        $output.Count | Should -Be 1
        $failures.Count | Should -Be 2
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.ChannelTokenMismatch*'
        $failures[1].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.MalformedNotification*'
        $failures[1].Exception.Message | Should -Match 'X-Goog-Message-Number is missing'
    }

    It 'checks -Token for channels the record does not know (-NoRecord)' {
        $good = ConvertFrom-CalendarNotification -Headers (New-Header -Token 'shared') -Token 'shared' -NoRecord
        $good.TokenMatched | Should -BeTrue
        $good.IsKnownChannel | Should -BeFalse

        $null = ConvertFrom-CalendarNotification -Headers (New-Header -Token 'other') -Token 'shared' -NoRecord -ErrorVariable refused -ErrorAction SilentlyContinue
        $refused[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.ChannelTokenMismatch*'
    }
}
