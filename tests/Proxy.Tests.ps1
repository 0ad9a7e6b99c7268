# Pester 5: Connect-CalendarWatch -Proxy and -ProxyCredential, as an admin behind a corporate proxy uses them: token
# and API requests both go through a forwarding proxy on loopback (tests/LoopbackProxy.cs, compiled here with
# Add-Type) to the emulator started with auth; the proxy's password never shows. Run through ./build.ps1 -Task Test.

BeforeAll {
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'

    $repositoryRoot = Split-Path -Path $PSScriptRoot -Parent
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'CalendarWatch.TestHelpers.psm1') -Force
    Import-Module -Name (Get-BuiltModuleManifest -RepositoryRoot $repositoryRoot) -Force
    if (-not ('CalendarWatch.TestSupport.LoopbackProxy' -as [type])) {
        Add-Type -Path (Join-Path -Path $PSScriptRoot -ChildPath 'LoopbackProxy.cs')
    }

    $script:emulator = Start-CalendarEmulator -RepositoryRoot $repositoryRoot -WithAuth
    $suffix = [guid]::NewGuid().ToString('N').Substring(0, 8)
    $script:user = "proxied-$suffix@example.com"
    $account = New-EmulatorServiceAccount -Emulator $script:emulator -KeyPath (Join-Path -Path $TestDrive -ChildPath 'proxied.json') `
        -ClientEmail "proxied-$suffix@pester-project.iam.gserviceaccount.com" -Subject $script:user
    $script:keyPath = $account.KeyPath
    New-EmulatorCalendar -Emulator $script:emulator -Id $script:user -Owner $script:user

    $script:proxyUser = 'corp\svc-calendar'
    $script:proxyPassword = 'Pr0xy-' + [guid]::NewGuid().ToString('N')
    $script:proxy = [CalendarWatch.TestSupport.LoopbackProxy]::Start($script:proxyUser, $script:proxyPassword)
    $script:credential = [pscredential]::new($script:proxyUser, (ConvertTo-SecureString -String $script:proxyPassword -AsPlainText -Force))
    $script:hook = 'http://127.0.0.1:9/hook'
}

AfterAll {
    Disconnect-CalendarWatch
    if ($null -ne $script:proxy) { $script:proxy.Dispose() }
    Stop-CalendarEmulator -Emulator $script:emulator
    Remove-Module -Name CalendarWatch -ErrorAction SilentlyContinue
}

Describe 'Connect-CalendarWatch -Proxy' {
    It 'sends token and API requests through the proxy with -ProxyCredential, and never shows its password' {
        $verbose = @(Connect-CalendarWatch -KeyFile $script:keyPath -ApiEndpoint $script:emulator.BaseUri -Subject $script:user `
                -Proxy $script:proxy.Address -ProxyCredential $script:credential -Verbose 4>&1)
        $channel = 'primary' | New-CalendarEventWatch -Address $script:hook -NoRecord -Verbose 4>&1 -OutVariable output |
            Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }

        $channel.ResourceId | Should -Not -BeNullOrEmpty
        $forwarded = @($script:proxy.Requests | Where-Object Authorized)
        @($forwarded | Where-Object { $_.Method -eq 'POST' -and $_.Url -eq [Uri]::new($script:emulator.BaseUri, 'token').AbsoluteUri -and $_.Status -eq 200 }).Count | Should -Be 1
        @($forwarded | Where-Object { $_.Url -like '*/calendar/v3/calendars/primary/events/watch*' -and $_.Status -eq 200 }).Count | Should -Be 1
        $server = @(Get-EmulatorChannel -Emulator $script:emulator | Where-Object { $_.id -eq $channel.Id })
        $server.Count | Should -Be 1

        ($verbose -join "`n") | Should -Match ([regex]::Escape("127.0.0.1:$($script:proxy.Address.Port) (with a credential)"))
        $everything = ($verbose + $output + (Get-CalendarWatchConnection | Format-List * | Out-String) + $channel.ToString()) -join "`n"
        $everything | Should -Not -Match ([regex]::Escape($script:proxyPassword))
    }

    It 'names a proxy that asks for credentials it was not given, per item, and the other items are reported too' {
        Connect-CalendarWatch -KeyFile $script:keyPath -ApiEndpoint $script:emulator.BaseUri -Subject $script:user -Proxy $script:proxy.Address -MaxRetry 0
        $errors = $null
        $channels = @('primary', 'primary') | New-CalendarEventWatch -Address $script:hook -NoRecord -ErrorAction SilentlyContinue -ErrorVariable errors

        $channels | Should -BeNullOrEmpty
        @($errors).Count | Should -Be 2
        # The token request is the first to meet the proxy: it is refused before any API request is sent.
        foreach ($record in $errors) {
            $record.FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.ProxyAuthenticationRequired*'
            $record.Exception.Message | Should -Match ([regex]::Escape("127.0.0.1:$($script:proxy.Address.Port)") + '.*407 Proxy Authentication Required.*-ProxyCredential')
        }
        @($script:proxy.Requests | Where-Object { $_.Url -like '*/calendar/v3/*' -and $_.Authorized }).Count | Should -Be 1
    }

    It 'takes host:port as an http proxy, and refuses an address with a password in it without showing the password' {
        $info = Connect-CalendarWatch -Emulator $script:emulator.BaseUri -Proxy "127.0.0.1:$($script:proxy.Address.Port)" -ProxyCredential $script:credential -NoStore -Verbose 4>&1
        ($info | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | Out-String) | Should -Match ([regex]::Escape("http://127.0.0.1:$($script:proxy.Address.Port) (with a credential)"))

        $failure = { Connect-CalendarWatch -Emulator $script:emulator.BaseUri -Proxy "http://svc:$($script:proxyPassword)@proxy.example.com:8080" } |
            Should -Throw -ErrorId 'CalendarWatch.InvalidProxy*' -PassThru
        $failure.Exception.Message | Should -Match 'ProxyCredential'
        ($failure | Out-String) + $failure.Exception.Message | Should -Not -Match ([regex]::Escape($script:proxyPassword))
        $failure.TargetObject | Should -BeNullOrEmpty
    }
}
