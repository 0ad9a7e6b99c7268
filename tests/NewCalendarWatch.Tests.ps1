# Pester 5: drives the built module (output/CalendarWatch/<version>) against the emulator started as a process.
# Run through ./build.ps1 -Task Test, which builds first.

BeforeAll {
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'

    $repositoryRoot = Split-Path -Path $PSScriptRoot -Parent
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'CalendarWatch.TestHelpers.psm1') -Force
    $builtManifest = Get-BuiltModuleManifest -RepositoryRoot $repositoryRoot
    Import-Module -Name $builtManifest -Force

    $script:emulator = Start-CalendarEmulator -RepositoryRoot $repositoryRoot
    $script:receiver = Start-WebhookReceiver
    $script:address = [Uri]::new($script:receiver.Address, 'hook')
    Connect-CalendarWatch -Emulator $script:emulator.BaseUri

    # A new calendar in the emulator, with an id no other test uses.
    function New-TestCalendar {
        param([string]$Prefix = 'pester')
        $id = '{0}-{1}@example.com' -f $Prefix, [guid]::NewGuid().ToString('N').Substring(0, 10)
        New-EmulatorCalendar -Emulator $script:emulator -Id $id
        $id
    }

    function Get-ChannelCount {
        @(Get-EmulatorChannel -Emulator $script:emulator).Count
    }

    $script:holidayCalendar = 'en.usa#holiday@group.v.calendar.google.com'
    New-EmulatorCalendar -Emulator $script:emulator -Id $script:holidayCalendar -Owner 'holidays@group.v.calendar.google.com' -NotWatchable
}

AfterAll {
    Stop-WebhookReceiver -Receiver $script:receiver
    Stop-CalendarEmulator -Emulator $script:emulator
    Remove-Module -Name CalendarWatch -ErrorAction SilentlyContinue
}

Describe 'Module surface' {
    It 'exports exactly the cmdlets the manifest lists' {
        $names = @((Get-Module -Name CalendarWatch).ExportedCmdlets.Keys | Sort-Object)
        $names | Should -Be @('Connect-CalendarWatch', 'ConvertFrom-CalendarNotification', 'Disconnect-CalendarWatch', 'Get-CalendarChannel', 'Get-CalendarWatchConnection', 'New-CalendarAclWatch', 'New-CalendarEventWatch', 'New-CalendarListWatch', 'New-CalendarSettingsWatch', 'Receive-CalendarNotification', 'Start-CalendarWatchEmulator', 'Stop-CalendarChannel', 'Stop-CalendarWatchEmulator', 'Update-CalendarChannel')
    }

    It 'completes -EventType with the known event types' {
        $line = 'New-CalendarEventWatch -EventType fo'
        $completion = TabExpansion2 -inputScript $line -cursorColumn $line.Length
        @($completion.CompletionMatches | ForEach-Object { $_.CompletionText }) | Should -Contain 'focusTime'
    }

    It 'has help for <_>' -ForEach @('Connect-CalendarWatch', 'Get-CalendarWatchConnection', 'Disconnect-CalendarWatch', 'New-CalendarEventWatch', 'New-CalendarAclWatch', 'New-CalendarListWatch', 'New-CalendarSettingsWatch', 'Get-CalendarChannel', 'Stop-CalendarChannel', 'Update-CalendarChannel', 'Receive-CalendarNotification', 'ConvertFrom-CalendarNotification', 'Start-CalendarWatchEmulator', 'Stop-CalendarWatchEmulator') {
        $help = Get-Help -Name $_ -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -Match '^\s*(New|Connect|Get|Disconnect)-'
        @($help.Examples.Example).Count | Should -BeGreaterThan 0
    }
}

Describe 'New-CalendarEventWatch' {
    It 'watches calendar ids piped as strings' {
        $calendars = @(New-TestCalendar; New-TestCalendar)
        $channels = @($calendars | New-CalendarEventWatch -Address $script:address)

        $channels.Count | Should -Be 2
        foreach ($i in 0..1) {
            $channel = $channels[$i]
            $channel.PSObject.TypeNames[0] | Should -Be 'CalendarWatch.Channel'
            $channel.Kind | Should -Be 'api#channel'
            $channel.CalendarId | Should -Be $calendars[$i]
            $channel.Resource | Should -Be 'Events'
            $channel.Address | Should -Be $script:address.AbsoluteUri
            $channel.ResourceId | Should -Not -BeNullOrEmpty
            [guid]::Parse($channel.Id) | Should -Not -BeNullOrEmpty
            $channel.Expiration | Should -BeOfType [DateTimeOffset]
            $channel.Expiration.Offset | Should -Be ([TimeSpan]::Zero)
        }

        $channels[0].Id | Should -Not -Be $channels[1].Id
        $serverIds = @(Get-EmulatorChannel -Emulator $script:emulator | ForEach-Object { $_.id })
        $serverIds | Should -Contain $channels[0].Id
        $serverIds | Should -Contain $channels[1].Id
    }

    It 'binds CalendarId and Address by property name' {
        $calendar = New-TestCalendar
        $channel = [PSCustomObject]@{ CalendarId = $calendar; Address = $script:address } | New-CalendarEventWatch

        $channel.CalendarId | Should -Be $calendar
        $channel.Address | Should -Be $script:address.AbsoluteUri
    }

    It 'binds a resource calendar through the ResourceEmail alias' {
        $calendar = New-TestCalendar -Prefix 'room'
        $channel = [PSCustomObject]@{ ResourceEmail = $calendar; Name = 'Room 1' } | New-CalendarEventWatch -Address $script:address

        $channel.CalendarId | Should -Be $calendar
    }

    It 'does not take a channel''s Id as a calendar id' {
        $calendar = New-TestCalendar
        $first = New-CalendarEventWatch -CalendarId $calendar -Address $script:address
        $second = $first | New-CalendarEventWatch -Address $script:address

        $second.CalendarId | Should -Be $calendar
        $second.Id | Should -Not -Be $first.Id
    }

    It 'watches the rows of Import-Csv' {
        $calendars = @(New-TestCalendar; New-TestCalendar; New-TestCalendar)
        $csv = Join-Path -Path $TestDrive -ChildPath 'calendars.csv'
        $calendars | ForEach-Object { [PSCustomObject]@{ CalendarId = $_; Summary = "Calendar $_" } } | Export-Csv -LiteralPath $csv -NoTypeInformation

        $channels = @(Import-Csv -LiteralPath $csv | New-CalendarEventWatch -Address $script:address)

        $channels.Count | Should -Be 3
        @($channels | ForEach-Object { $_.CalendarId }) | Should -Be $calendars
    }

    It 'sends the event types and the channel token' {
        $calendar = New-TestCalendar
        $channel = New-CalendarEventWatch -CalendarId $calendar -Address $script:address -EventType 'default', 'focusTime' -Token 'team=blue'

        $channel.EventTypes | Should -Be 'default,focusTime'
        $channel.Token | Should -Be 'team=blue'
        $serverChannel = @(Get-EmulatorChannel -Emulator $script:emulator | Where-Object { $_.id -eq $channel.Id })
        $serverChannel.Count | Should -Be 1
        $serverChannel[0].token | Should -Be 'team=blue'
    }

    It 'uses -ChannelId and -ExpiresAt' {
        $calendar = New-TestCalendar
        $channelId = 'pester-' + [guid]::NewGuid().ToString('N')
        $expiresAt = [DateTimeOffset]::UtcNow.AddDays(2)
        $channel = New-CalendarEventWatch -CalendarId $calendar -Address $script:address -ChannelId $channelId -ExpiresAt $expiresAt

        $channel.Id | Should -Be $channelId
        [Math]::Abs(($channel.Expiration - $expiresAt).TotalSeconds) | Should -BeLessThan 5
    }

    It 'refuses -TimeToLive together with -ExpiresAt' {
        { New-CalendarEventWatch -CalendarId 'x@example.com' -Address $script:address -TimeToLive (New-TimeSpan -Days 1) -ExpiresAt ([DateTimeOffset]::UtcNow.AddDays(1)) } |
            Should -Throw -ErrorId 'AmbiguousParameterSet*'
    }

    It 'refuses a channel id longer than 64 characters' {
        { New-CalendarEventWatch -CalendarId 'x@example.com' -Address $script:address -ChannelId ('x' * 65) } |
            Should -Throw -ErrorId 'ParameterArgumentValidationError*'
    }

    It 'creates nothing with -WhatIf' {
        $calendars = @(New-TestCalendar; New-TestCalendar)
        $before = Get-ChannelCount

        $output = @($calendars | New-CalendarEventWatch -Address $script:address -WhatIf)

        $output.Count | Should -Be 0
        Get-ChannelCount | Should -Be $before
    }

    It 'writes one error for a calendar that cannot be watched and goes on with the others' {
        $good1 = New-TestCalendar
        $good2 = New-TestCalendar
        $failures = $null

        $channels = @($good1, $script:holidayCalendar, $good2 | New-CalendarEventWatch -Address $script:address -ErrorVariable failures -ErrorAction SilentlyContinue)

        $channels.Count | Should -Be 2
        @($channels | ForEach-Object { $_.CalendarId }) | Should -Be @($good1, $good2)
        @($failures).Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.PushNotSupported,*'
        $failures[0].TargetObject | Should -Be $script:holidayCalendar
        $failures[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        $failures[0].Exception.Message | Should -Match 'cannot be watched'
    }

    It 'writes one error for a calendar that does not exist' {
        $good = New-TestCalendar
        $failures = $null

        $missing = 'missing-{0}@example.com' -f [guid]::NewGuid().ToString('N')

        $channels = @($missing, $good | New-CalendarEventWatch -Address $script:address -ErrorVariable failures -ErrorAction SilentlyContinue)

        $channels.Count | Should -Be 1
        @($failures).Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.NotFound,*'
        $failures[0].TargetObject | Should -Be $missing
        $failures[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }

    It 'keeps Id and ResourceId through Export-Csv and Import-Csv' {
        $calendars = @(New-TestCalendar; New-TestCalendar)
        $channels = @($calendars | New-CalendarEventWatch -Address $script:address -EventType 'default', 'outOfOffice')
        $csv = Join-Path -Path $TestDrive -ChildPath 'channels.csv'

        $channels | Export-Csv -LiteralPath $csv -NoTypeInformation
        $rows = @(Import-Csv -LiteralPath $csv)

        $rows.Count | Should -Be 2
        foreach ($i in 0..1) {
            $rows[$i].Id | Should -Be $channels[$i].Id
            $rows[$i].ResourceId | Should -Be $channels[$i].ResourceId
            $rows[$i].CalendarId | Should -Be $channels[$i].CalendarId
            $rows[$i].Resource | Should -Be 'Events'
            $rows[$i].Address | Should -Be $channels[$i].Address
            $rows[$i].EventTypes | Should -Be 'default,outOfOffice'
            $parsed = [DateTimeOffset]::MinValue
            $parsedOk = [DateTimeOffset]::TryParse($rows[$i].Expiration, [cultureinfo]::InvariantCulture, [System.Globalization.DateTimeStyles]::None, [ref]$parsed) -or
                [DateTimeOffset]::TryParse($rows[$i].Expiration, [ref]$parsed)
            $parsedOk | Should -BeTrue
            [Math]::Abs(($parsed - $channels[$i].Expiration).TotalSeconds) | Should -BeLessThan 1
        }
    }

    It 'says in -Verbose what it sends, without the channel token' {
        $calendar = New-TestCalendar
        $records = @(New-CalendarEventWatch -CalendarId $calendar -Address $script:address -Token 'verbose-token-5678' -ChannelId ('v-' + [guid]::NewGuid().ToString('N')) -Verbose 4>&1)
        $verbose = @($records | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object { $_.Message }) -join [Environment]::NewLine
        $channel = @($records | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] })[0]

        $verbose | Should -Match 'POST calendar/v3/calendars/'
        $verbose | Should -Match ([regex]::Escape($calendar))
        $verbose | Should -Match ([regex]::Escape($channel.Id))
        $verbose | Should -Match ([regex]::Escape($script:address.AbsoluteUri))
        $verbose | Should -Not -Match 'verbose-token-5678'
    }

    It 'hides the channel token in the default table and list views' {
        $calendar = New-TestCalendar
        $channel = New-CalendarEventWatch -CalendarId $calendar -Address $script:address -Token 'do-not-show-1234'

        # The table fits 80 columns (tests/Format.Tests.ps1); the list view shows every other property whole.
        $table = $channel | Format-Table -AutoSize | Out-String -Width 4096
        $list = $channel | Format-List | Out-String -Width 4096
        $list | Should -Match ([regex]::Escape($channel.ResourceId))
        $table + $list | Should -Not -Match 'do-not-show-1234'
    }
}

Describe 'New-CalendarAclWatch' {
    It 'watches calendar ids piped as strings' {
        $calendars = @(New-TestCalendar; New-TestCalendar)
        $channels = @($calendars | New-CalendarAclWatch -Address $script:address)

        $channels.Count | Should -Be 2
        foreach ($i in 0..1) {
            $channels[$i].PSObject.TypeNames[0] | Should -Be 'CalendarWatch.Channel'
            $channels[$i].CalendarId | Should -Be $calendars[$i]
            $channels[$i].Resource | Should -Be 'Acl'
            $channels[$i].ResourceId | Should -Not -BeNullOrEmpty
            $channels[$i].EventTypes | Should -Be ''
        }
    }

    It 'watches objects with a CalendarId property' {
        $calendars = @(New-TestCalendar; New-TestCalendar)
        $channels = @($calendars | ForEach-Object { [PSCustomObject]@{ CalendarId = $_; AccessRole = 'owner' } } | New-CalendarAclWatch -Address $script:address)

        @($channels | ForEach-Object { $_.CalendarId }) | Should -Be $calendars
        @($channels | ForEach-Object { $_.Resource }) | Should -Be @('Acl', 'Acl')
    }

    It 'watches the rows of Import-Csv' {
        $calendars = @(New-TestCalendar; New-TestCalendar)
        $csv = Join-Path -Path $TestDrive -ChildPath 'acl-calendars.csv'
        $calendars | ForEach-Object { [PSCustomObject]@{ calendarId = $_ } } | Export-Csv -LiteralPath $csv -NoTypeInformation

        $channels = @(Import-Csv -LiteralPath $csv | New-CalendarAclWatch -Address $script:address)

        @($channels | ForEach-Object { $_.CalendarId }) | Should -Be $calendars
    }

    It 'creates nothing with -WhatIf' {
        $calendar = New-TestCalendar
        $before = Get-ChannelCount

        $output = @(New-CalendarAclWatch -CalendarId $calendar -Address $script:address -WhatIf)

        $output.Count | Should -Be 0
        Get-ChannelCount | Should -Be $before
    }

    It 'writes one error for a calendar that cannot be watched and goes on with the others' {
        $good1 = New-TestCalendar
        $good2 = New-TestCalendar
        $failures = $null

        $channels = @($good1, $script:holidayCalendar, $good2 | New-CalendarAclWatch -Address $script:address -ErrorVariable failures -ErrorAction SilentlyContinue)

        $channels.Count | Should -Be 2
        @($failures).Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.PushNotSupported,*'
        $failures[0].TargetObject | Should -Be $script:holidayCalendar
    }
}

Describe 'Connection resolution in a new PowerShell process' {
    BeforeAll {
        # A child pwsh: the connection Connect-CalendarWatch stores lives for the process, so only a new process
        # shows what happens without it.
        # The pwsh of this session: $PSHOME holds it in the usual installs; otherwise (a dotnet global tool) the
        # process's own executable, which is then the pwsh apphost.
        $script:pwsh = Join-Path -Path $PSHOME -ChildPath $(if ($IsWindows) { 'pwsh.exe' } else { 'pwsh' })
        if (-not (Test-Path -LiteralPath $script:pwsh -PathType Leaf)) {
            $script:pwsh = [System.Diagnostics.Process]::GetCurrentProcess().MainModule.FileName
        }
        $script:childScript = Join-Path -Path $TestDrive -ChildPath 'child.ps1'
        Set-Content -LiteralPath $script:childScript -Encoding utf8 -Value @'
param([string]$Manifest, [string]$CalendarId, [string]$Address)
$ErrorActionPreference = 'Stop'
Import-Module -Name $Manifest
try {
    $channel = New-CalendarEventWatch -CalendarId $CalendarId -Address $Address
    [PSCustomObject]@{ Outcome = 'Channel'; Value = $channel.CalendarId } | ConvertTo-Json -Compress
}
catch {
    [PSCustomObject]@{ Outcome = 'Error'; Value = $_.FullyQualifiedErrorId } | ConvertTo-Json -Compress
}
'@
    }

    It 'uses CALENDARWATCH_EMULATOR_HOST when Connect-CalendarWatch was not run' {
        $calendar = New-TestCalendar
        # The emulator's own host:port: on Windows without a URL ACL it serves on localhost only, and HTTP.sys answers
        # 400 (Invalid Hostname) to a request whose Host is 127.0.0.1.
        $env:CALENDARWATCH_EMULATOR_HOST = $script:emulator.BaseUri.Authority
        try {
            $text = & $script:pwsh -NoProfile -NonInteractive -File $script:childScript -Manifest $builtManifest -CalendarId $calendar -Address $script:address.AbsoluteUri
        }
        finally {
            Remove-Item -Path Env:CALENDARWATCH_EMULATOR_HOST -ErrorAction SilentlyContinue
        }

        $result = ($text | Select-Object -Last 1) | ConvertFrom-Json
        $result.Outcome | Should -Be 'Channel'
        $result.Value | Should -Be $calendar
    }

    It 'stops with CalendarWatch.NotConnected when there is no connection and no usable ADC' {
        Remove-Item -Path Env:CALENDARWATCH_EMULATOR_HOST -ErrorAction SilentlyContinue
        # Without a connection the cmdlets fall back to Application Default Credentials; point ADC at a missing file so
        # the outcome does not depend on this machine's gcloud login or metadata server.
        $env:GOOGLE_APPLICATION_CREDENTIALS = Join-Path -Path $TestDrive -ChildPath 'no-such-adc.json'
        try {
            $text = & $script:pwsh -NoProfile -NonInteractive -File $script:childScript -Manifest $builtManifest -CalendarId 'nobody@example.com' -Address 'https://hooks.example.com/calendar'
        }
        finally {
            Remove-Item -Path Env:GOOGLE_APPLICATION_CREDENTIALS -ErrorAction SilentlyContinue
        }

        $result = ($text | Select-Object -Last 1) | ConvertFrom-Json
        $result.Outcome | Should -Be 'Error'
        $result.Value | Should -BeLike 'CalendarWatch.NotConnected,*'
    }
}

Describe 'Connect-CalendarWatch' {
    AfterAll {
        Connect-CalendarWatch -Emulator $script:emulator.BaseUri
    }

    It 'returns the emulator connection without secrets' {
        $info = Connect-CalendarWatch -Emulator $script:emulator.BaseUri -PassThru

        $info.Kind | Should -Be 'Emulator'
        $info.Endpoint | Should -Be $script:emulator.BaseUri
    }

    It 'accepts host:port for -Emulator' {
        $info = Connect-CalendarWatch -Emulator ('127.0.0.1:{0}' -f $script:emulator.BaseUri.Port) -PassThru

        $info.Endpoint.Port | Should -Be $script:emulator.BaseUri.Port
    }

    It 'refuses to send a token over plain http to another machine' {
        $secret = ConvertTo-SecureString -String 'ya29.other-secret' -AsPlainText -Force
        { Connect-CalendarWatch -AccessToken $secret -ApiEndpoint 'http://calendar-proxy.example.com/' } |
            Should -Throw -ErrorId 'CalendarWatch.InsecureApiEndpoint*'
    }

    It 'never shows the access token' {
        $secret = ConvertTo-SecureString -String 'ya29.secret-token-value' -AsPlainText -Force
        $info = Connect-CalendarWatch -AccessToken $secret -PassThru -Verbose 4>&1

        $text = ($info | Format-List * | Out-String) + ($info | ConvertTo-Json -Depth 3)
        $text | Should -Not -Match 'secret-token-value'
        @($info | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] })[0].Kind | Should -Be 'AccessToken'
    }
}

Describe 'New-CalendarListWatch and New-CalendarSettingsWatch' {
    It '<Command> watches the caller''s own <Resource>' -ForEach @(
        @{ Command = 'New-CalendarListWatch'; Resource = 'CalendarList'; ServerResource = 'calendarList' }
        @{ Command = 'New-CalendarSettingsWatch'; Resource = 'Settings'; ServerResource = 'settings' }
    ) {
        $channel = & $Command -Address $script:address -TimeToLive (New-TimeSpan -Hours 1) -Token 'list-or-settings'

        $channel.PSObject.TypeNames[0] | Should -Be 'CalendarWatch.Channel'
        $channel.Resource | Should -Be $Resource
        $channel.ResourceId | Should -Not -BeNullOrEmpty
        $channel.Token | Should -Be 'list-or-settings'
        $server = @(Get-EmulatorChannel -Emulator $script:emulator | Where-Object id -EQ $channel.Id)
        $server.Count | Should -Be 1
        $server[0].resource | Should -Be $ServerResource
        $server[0].address | Should -Be $script:address.AbsoluteUri
    }

    It '<_> -WhatIf sends nothing' -ForEach @('New-CalendarListWatch', 'New-CalendarSettingsWatch') {
        $before = Get-ChannelCount
        $result = & $_ -Address $script:address -WhatIf
        $result | Should -BeNullOrEmpty
        Get-ChannelCount | Should -Be $before
    }

    It '<_> refuses a bad address before sending' -ForEach @('New-CalendarListWatch', 'New-CalendarSettingsWatch') {
        $before = Get-ChannelCount
        $null = & $_ -Address 'https://user:pw@hooks.example.com/x' -ErrorVariable failures -ErrorAction SilentlyContinue
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.InvalidAddress,*'
        Get-ChannelCount | Should -Be $before
    }
}
