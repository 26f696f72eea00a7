# Dialtone's side of the `powershell` TeamsAdmin adapter: each PowerShell session of a worker is one
# long-lived pwsh running this script, speaking a line protocol on stdin/stdout (contract: protocol.ts next
# to this file).
#   in:  one JSON command per line  {"id":1,"op":"invoke","cmdlet":"Get-CsOnlineApplicationInstance",
#                                    "parameters":{"Identities":"a@contoso.com,b@contoso.com"},"errorAction":"SilentlyContinue"}
#   out: exactly one JSON answer line per command
#        {"id":1,"ok":true,"result":{"output":[{...}],"errors":[{record}]}}
#        or {"id":1,"ok":false,"error":{"message":"...","record":{...}}}   (a cmdlet's terminating error)
#        or {"id":1,"ok":false,"error":{"kind":"notInstalled","message":"...","code":"..."}}  (this script's own)
# The script only runs cmdlets and reports what the module gave, unread: the output objects with the
# module's property names, and each error record's FullyQualifiedErrorId, CategoryInfo, exception type and
# message. What they mean (no association, access denied, throttled) is decided on the Node side
# (records.ts, cmdlets.ts), where it is tested against the simulator's stand-in for this script.
# Nothing else is written to stdout: pipeline output is captured, the host's writer is pointed at stderr,
# and the warning/verbose/debug/information streams are dropped per command. The script ends on stdin EOF
# (so a killed worker leaves no orphan) and on {"op":"quit"}. Tokens are never echoed, and every text is
# scrubbed of anything that looks like a JWT before it is answered.

# The pinned module version. 8.0.0 was released 2026-09-15 (MicrosoftTeams release notes,
# https://learn.microsoft.com/microsoftteams/teams-powershell-release-notes): none of the changes from
# 7.6.0 to 8.0.0 touches Connect-MicrosoftTeams -AccessTokens (7.9.0 moved interactive sign-in to WAM),
# Get-/New-CsOnlineApplicationInstance, the *-CsOnlineApplicationInstanceAssociation cmdlets or
# Get-CsAutoAttendant / Get-CsCallQueue. Application-based authentication, including
# New-/Get-/Sync-CsOnlineApplicationInstance in the commercial cloud and GCC, needs 4.7.1-preview or later
# (https://learn.microsoft.com/microsoftteams/teams-powershell-application-authentication).
# Keep in step with PINNED_TEAMS_MODULE_VERSION in protocol.ts (a test compares them).
$PinnedModuleVersion = '8.0.0'
$ModuleName = 'MicrosoftTeams'

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$InformationPreference = 'SilentlyContinue'
$WarningPreference = 'SilentlyContinue'
$VerbosePreference = 'SilentlyContinue'
$DebugPreference = 'SilentlyContinue'
$ConfirmPreference = 'None'

# Answers go through a writer of our own on the real stdout; Console.Out (which the host and .NET
# libraries write to) is pointed at stderr, so their noise cannot corrupt the stream.
$utf8 = [System.Text.UTF8Encoding]::new($false)
$answerWriter = [System.IO.StreamWriter]::new([Console]::OpenStandardOutput(), $utf8)
$answerWriter.AutoFlush = $true
$answerWriter.NewLine = "`n"
[Console]::SetOut([Console]::Error)
$commandReader = [System.IO.StreamReader]::new([Console]::OpenStandardInput(), $utf8)

$script:connected = $false
$script:moduleImported = $false

function Hide-Secrets([string] $text) {
  if ($null -eq $text) { return '' }
  # JWTs (access tokens) and anything after "Bearer".
  $text = [regex]::Replace($text, 'eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*', '[token]')
  return [regex]::Replace($text, '(?i)bearer\s+\S+', 'Bearer [token]')
}

function Send-Answer([hashtable] $answer) {
  $answerWriter.WriteLine((ConvertTo-Json -InputObject $answer -Compress -Depth 12 -EnumsAsStrings))
}

class DialtoneError : System.Exception {
  [string] $Kind
  [string] $Code
  DialtoneError([string] $kind, [string] $message, [string] $code) : base($message) {
    $this.Kind = $kind
    $this.Code = $code
  }
}

function Get-InstallFix {
  "Install-Module $ModuleName -RequiredVersion $PinnedModuleVersion -Scope AllUsers"
}

function Import-PinnedModule {
  if ($script:moduleImported) { return }
  try {
    Import-Module -Name $ModuleName -RequiredVersion $PinnedModuleVersion -ErrorAction Stop 3>$null 4>$null 5>$null 6>$null | Out-Null
    $script:moduleImported = $true
  } catch {
    $found = @(Get-Module -ListAvailable -Name $ModuleName | ForEach-Object { $_.Version.ToString() })
    $have = if ($found.Count -gt 0) { "found $($found -join ', ')" } else { 'not installed' }
    throw [DialtoneError]::new('notInstalled',
      "The $ModuleName PowerShell module $PinnedModuleVersion is not importable ($have): run '$(Get-InstallFix)' in pwsh as an administrator, or use the worker image. ($(Hide-Secrets $_.Exception.Message))",
      'ModuleNotInstalled')
  }
}

# The cmdlets this script runs (the same list as CMDLETS in protocol.ts); nothing else is invoked.
$AllowedCmdlets = @(
  'Get-CsOnlineApplicationInstance',
  'New-CsOnlineApplicationInstance',
  'Get-CsAutoAttendant',
  'Get-CsCallQueue',
  'Get-CsOnlineApplicationInstanceAssociation',
  'New-CsOnlineApplicationInstanceAssociation',
  'Remove-CsOnlineApplicationInstanceAssociation'
)

# An error record as the Node side reads it. Sources of the fields: the records posted in
# office-docs-powershell issues 10363, 8875, 10083 (FullyQualifiedErrorId "<HTTP status>,<cmdlet class>",
# CategoryInfo "InvalidOperation … UndeclaredResponseException"), and ErrorDetails, where AutoRest-generated
# cmdlets put the service's message and recommended action.
function ConvertTo-RecordAnswer($record) {
  $exception = $record.Exception
  $inner = @()
  $next = $exception.InnerException
  while ($next -and $inner.Count -lt 3) { $inner += (Hide-Secrets $next.Message); $next = $next.InnerException }
  $answer = @{
    fullyQualifiedErrorId = [string]$record.FullyQualifiedErrorId
    category = [string]$record.CategoryInfo.Category
    reason = [string]$record.CategoryInfo.Reason
    activity = [string]$record.CategoryInfo.Activity
    exceptionType = if ($exception) { $exception.GetType().FullName } else { '' }
    message = Hide-Secrets ([string]$exception.Message)
    innerMessages = $inner
  }
  if ($record.ErrorDetails) {
    if ($record.ErrorDetails.Message) { $answer.errorDetails = Hide-Secrets ([string]$record.ErrorDetails.Message) }
    if ($record.ErrorDetails.RecommendedAction) { $answer.recommendedAction = Hide-Secrets ([string]$record.ErrorDetails.RecommendedAction) }
  }
  return $answer
}

# A module object as plain data: its properties with simple values (strings, numbers, booleans, enums as
# their names, dates as ISO 8601), arrays of those, and nested objects to a few levels (the association
# output's Results[]). ConvertTo-Json of the module's own objects could follow references without end.
function ConvertTo-Plain($value, [int] $depth = 0) {
  if ($null -eq $value) { return $null }
  if ($value -is [string] -or $value -is [bool] -or $value -is [int] -or $value -is [long] -or $value -is [double] -or $value -is [decimal]) { return $value }
  if ($value -is [enum] -or $value -is [guid]) { return $value.ToString() }
  if ($value -is [datetime]) { return $value.ToUniversalTime().ToString('o') }
  if ($depth -ge 4) { return [string]$value }
  if ($value -is [System.Collections.IDictionary]) {
    $plain = @{}
    foreach ($key in $value.Keys) { $plain[[string]$key] = ConvertTo-Plain $value[$key] ($depth + 1) }
    return $plain
  }
  if ($value -is [System.Collections.IEnumerable]) {
    return ,@($value | ForEach-Object { ConvertTo-Plain $_ ($depth + 1) })
  }
  $plain = @{}
  foreach ($property in $value.PSObject.Properties) {
    if ($property.MemberType -notin @('Property', 'NoteProperty', 'AliasProperty', 'ScriptProperty')) { continue }
    try { $plain[$property.Name] = ConvertTo-Plain $property.Value ($depth + 1) } catch { $null = $_ }
  }
  return $plain
}

function Assert-Connected {
  Import-PinnedModule
  if (-not $script:connected) {
    throw [DialtoneError]::new('unauthenticated', 'The session is not connected: send connect with a Graph and a Teams admin token first.', 'NotConnected')
  }
}

# Thrown for a cmdlet's terminating error: the main loop answers with its record, unread.
class CmdletFailure : System.Exception {
  [object] $Record
  CmdletFailure([object] $record) : base('cmdlet failed') { $this.Record = $record }
}

# Runs one allowed cmdlet with the given named parameters (splatted: values are parameters, never code).
# -ErrorAction Stop: its first error is the answer's record. SilentlyContinue: the errors it writes come back
# beside its output, as public code reads the association lookups (TeamsFunctions: -ErrorAction
# SilentlyContinue, then a test of the output).
function Invoke-AllowedCmdlet([hashtable] $command) {
  $name = [string]$command.cmdlet
  if ($AllowedCmdlets -notcontains $name) {
    throw [DialtoneError]::new('invalid', "Cmdlet '$name' is not one this script runs ($($AllowedCmdlets -join ', ')).", 'UnknownCmdlet')
  }
  Assert-Connected
  $parameters = @{}
  if ($command.parameters) {
    foreach ($key in $command.parameters.Keys) {
      $value = $command.parameters[$key]
      # JSON arrays arrive as object[]; the cmdlets take string[] (-Identities of the association cmdlets).
      if ($value -is [System.Collections.IList]) { $value = [string[]]@($value | ForEach-Object { [string]$_ }) }
      $parameters[[string]$key] = $value
    }
  }
  $errorAction = if ([string]$command.errorAction -eq 'SilentlyContinue') { 'SilentlyContinue' } else { 'Stop' }
  $written = $null
  try {
    $output = @(& $name @parameters -ErrorAction $errorAction -ErrorVariable written 3>$null 4>$null 5>$null 6>$null)
  } catch {
    throw [CmdletFailure]::new((ConvertTo-RecordAnswer $_))
  }
  $errors = @($written | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] } | ForEach-Object { ConvertTo-RecordAnswer $_ })
  return @{ output = @($output | Where-Object { $null -ne $_ } | ForEach-Object { ConvertTo-Plain $_ }); errors = $errors }
}

function Invoke-Command-Line([hashtable] $command) {
  switch ($command.op) {
    'hello' {
      $found = @(Get-Module -ListAvailable -Name $ModuleName | ForEach-Object { $_.Version.ToString() } | Sort-Object -Unique)
      $importable = $true
      $problem = $null
      try { Import-PinnedModule } catch { $importable = $false; $problem = $_.Exception.Message }
      $answer = @{
        powershell = $PSVersionTable.PSVersion.ToString()
        module = @{ name = $ModuleName; pinned = $PinnedModuleVersion; importable = $importable; found = $found }
        host = 'pwsh'
      }
      if (-not $importable) { $answer.module.fix = Get-InstallFix; $answer.module.problem = $problem }
      return $answer
    }
    'connect' {
      Import-PinnedModule
      if (-not $command.graphToken -or -not $command.teamsToken) {
        throw [DialtoneError]::new('invalid', 'connect needs graphToken and teamsToken (access tokens for Microsoft Graph and the Skype and Teams Tenant Admin API).', 'MissingToken')
      }
      if ($script:connected) {
        try { Invoke-Quietly { Disconnect-MicrosoftTeams -ErrorAction SilentlyContinue } | Out-Null } catch { $null = $_ }
        $script:connected = $false
      }
      # App-only with two access tokens: "It requires two Access Tokens – “MS Graph” and “Skype and Teams
      # Tenant Admin API” resources." (https://learn.microsoft.com/microsoftteams/teams-powershell-application-authentication)
      $connectArgs = @{ AccessTokens = @([string]$command.graphToken, [string]$command.teamsToken); ErrorAction = 'Stop' }
      if ($command.tenantId) { $connectArgs.TenantId = [string]$command.tenantId }
      try {
        Invoke-Quietly { Connect-MicrosoftTeams @connectArgs } | Out-Null
      } catch {
        throw [CmdletFailure]::new((ConvertTo-RecordAnswer $_))
      } finally {
        $connectArgs = $null
        $command.graphToken = $null
        $command.teamsToken = $null
      }
      $script:connected = $true
      return @{ connected = $true }
    }
    'invoke' {
      return (Invoke-AllowedCmdlet $command)
    }
    default {
      throw [DialtoneError]::new('invalid', "Unknown op '$($command.op)': use hello, connect, invoke or quit.", 'UnknownOp')
    }
  }
}

# Runs a block with every stream but output and errors dropped.
function Invoke-Quietly([scriptblock] $block) {
  return (& $block 3>$null 4>$null 5>$null 6>$null)
}

while ($true) {
  $line = $commandReader.ReadLine()
  if ($null -eq $line) { break }
  if ($line.Trim() -eq '') { continue }
  $id = $null
  try {
    $command = ConvertFrom-Json -InputObject $line -AsHashtable -ErrorAction Stop
    $id = $command.id
    if ($command.op -eq 'quit') {
      Send-Answer @{ id = $id; ok = $true; result = @{ bye = $true } }
      break
    }
    $result = Invoke-Command-Line $command
    Send-Answer @{ id = $id; ok = $true; result = $result }
  } catch {
    $exception = $_.Exception
    if ($exception -is [CmdletFailure]) {
      Send-Answer @{ id = $id; ok = $false; error = @{ message = $exception.Record.message; record = $exception.Record } }
    } elseif ($exception -is [DialtoneError]) {
      Send-Answer @{ id = $id; ok = $false; error = @{ kind = $exception.Kind; message = (Hide-Secrets $exception.Message); code = $exception.Code } }
    } else {
      # A line that is not JSON is 'invalid'; anything else failed in this script, perhaps after a cmdlet
      # ran, so its effect is unknown: 'transient' (the activity looks before it writes again).
      $kind = if ($exception -is [System.ArgumentException] -or $_.FullyQualifiedErrorId -like '*ConvertFromJson*') { 'invalid' } else { 'transient' }
      Send-Answer @{ id = $id; ok = $false; error = @{ kind = $kind; message = (Hide-Secrets $exception.Message) } }
    }
  } finally {
    $command = $null
    $line = $null
  }
}
if ($script:connected) {
  try { Invoke-Quietly { Disconnect-MicrosoftTeams -ErrorAction SilentlyContinue } | Out-Null } catch { $null = $_ }
}
exit 0
