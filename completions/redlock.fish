# fish completion for redlock(1)
#
# Installed as share/fish/vendor_completions.d/redlock.fish. The option lists follow the
# option table of redlock (Sources/redlock/OptionTable.swift);
# Tests/RedlockCoreTests/AgreementTests.swift fails when they drift apart.

# Walks the tokens before the cursor and prints two lines: the redlock command (or
# nothing), and for `run` the position in those tokens where COMMAND starts (0 when it
# has not started; "next" when the current token would start it).
function __redlock_scan
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l command
    set -l key
    set -l start 0
    set -l pending 0
    set -l positional_only 0
    set -l i 0
    for token in $tokens
        set i (math $i + 1)
        if test $positional_only = 1
            test -z "$command"; and set command $token
            continue
        end
        if test $pending = 1
            set pending 0
            continue
        end
        switch $token
            case --
                if test "$command" = run
                    set start (math $i + 1)
                    break
                end
                set positional_only 1
            case '--*=*'
            case --redis --password-file --connect-timeout --op-timeout --prefix --restart-grace \
                    --tls-ca-cert --tls-cert --tls-key --tls-server-name \
                    --ttl --wait --conflict-exit-code --unreachable-timeout --kill-after \
                    --lost-signal --max-time --min-hold --leftovers --token --label --limit --slots \
                    --once --once-keep --events --events-fd --queue --order-key --if-newer
                set pending 1
            case '--*'
            case '-?*'
                # A group of letters: the first that takes a value takes the rest of the
                # word, or the next word when it is last.
                set -l letters (string split '' -- (string sub -s 2 -- $token))
                set -l n (count $letters)
                for j in (seq $n)
                    if contains -- $letters[$j] r t w E l
                        test $j -eq $n; and set pending 1
                        break
                    end
                end
            case '*'
                if test -z "$command"
                    set command $token
                else if test "$command" = run -a -z "$key"
                    set key $token
                else if test "$command" = run
                    set start $i
                    break
                end
        end
    end
    if test "$command" = run -a $start = 0 -a -n "$key" -a $pending = 0
        # After KEY, a word that is not an option starts COMMAND.
        string match -q -- '-*' (commandline -ct); or set start next
    end
    printf '%s\n' "$command" $start
end

# True when no redlock command has been given yet.
function __redlock_needs_command
    set -l scan (__redlock_scan)
    test -z "$scan[1]"
end

# True when the redlock command is one of the arguments (and we are not in run's COMMAND).
function __redlock_using
    set -l scan (__redlock_scan)
    test "$scan[2]" = 0; and contains -- "$scan[1]" $argv
end

# True outside run's COMMAND: redlock's own options apply.
function __redlock_options
    set -l scan (__redlock_scan)
    test "$scan[2]" = 0
end

# True inside run's COMMAND.
function __redlock_in_command
    set -l scan (__redlock_scan)
    test "$scan[2]" != 0
end

# Completes run's COMMAND as fish would complete it on its own.
function __redlock_complete_command
    set -l scan (__redlock_scan)
    set -l current (commandline -ct)
    if test "$scan[2]" = next
        # The word at the cursor is COMMAND itself.
        complete -C "$current"
        return
    end
    # The tokens of `commandline -opc` start with "redlock": COMMAND is one further on.
    set -l tokens (commandline -opc)
    set -l words $tokens[(math $scan[2] + 1)..-1]
    if test (count $words) -eq 0
        complete -C "$current"
    else
        complete -C (string join ' ' -- (string escape -- $words) "$current")
    end
end

complete -c redlock -f

# The commands.
complete -c redlock -n __redlock_needs_command -a run -d 'Run COMMAND while holding KEY'
complete -c redlock -n __redlock_needs_command -a acquire -d 'Take KEY and print its token'
complete -c redlock -n __redlock_needs_command -a extend -d 'Renew KEY if still held with TOKEN'
complete -c redlock -n __redlock_needs_command -a release -d 'Release KEY if still held with TOKEN'
complete -c redlock -n __redlock_needs_command -a inspect -d 'Show who holds KEY'
complete -c redlock -n __redlock_needs_command -a force-release -d 'Delete KEY whoever holds it'
complete -c redlock -n __redlock_needs_command -a doctor -d 'Check every instance and the quorum'
complete -c redlock -n __redlock_needs_command -a help -d 'Show help for redlock or a command'
complete -c redlock -n '__redlock_using help' -a 'run acquire extend release inspect force-release doctor help'

# Options every command takes.
complete -c redlock -n __redlock_options -s r -l redis -x -a 'redis:// rediss:// redis+sentinel:// rediss+sentinel:// redis+cluster:// rediss+cluster:// unix://' -d 'A Redis master of the quorum (repeatable)'
complete -c redlock -n __redlock_options -l password-file -r -F -d 'Read the password from FILE'
complete -c redlock -n __redlock_options -l connect-timeout -x -d 'Bound on connecting (default: 500ms)'
complete -c redlock -n __redlock_options -l op-timeout -x -d 'Bound on each round (default: 250ms)'
complete -c redlock -n __redlock_options -l prefix -x -d 'Prepended to every key (default: none)'
complete -c redlock -n __redlock_options -l restart-grace -x -d 'Ignore instances up for less than D (default: off)'
complete -c redlock -n __redlock_options -l tls-ca-cert -r -F -d 'Trust the CA certificates in FILE (default: the system trust store)'
complete -c redlock -n __redlock_options -l tls-cert -r -F -d 'Client certificate for servers that ask for one'
complete -c redlock -n __redlock_options -l tls-key -r -F -d 'Private key of the client certificate'
complete -c redlock -n __redlock_options -l tls-server-name -x -d 'Name the server certificates must carry (SNI)'
complete -c redlock -n __redlock_options -l tls-insecure -d 'Do not verify server certificates'
complete -c redlock -n __redlock_options -s q -l quiet -d 'No waiting status, no warnings'
complete -c redlock -n __redlock_options -s v -l verbose -d 'Log each round and renewal'
complete -c redlock -n __redlock_options -s h -l help -d 'Show help and exit'
complete -c redlock -n __redlock_options -s V -l version -d 'Show the version and exit'

# Taking the lock.
complete -c redlock -n '__redlock_using run acquire extend' -s t -l ttl -x -d 'Lease length (default: 30s)'
complete -c redlock -n '__redlock_using run acquire' -s w -l wait -x -d 'Give up after waiting D (default: forever)'
complete -c redlock -n '__redlock_using run acquire' -s n -l no-wait -d 'Give up at once if held'
complete -c redlock -n '__redlock_using run acquire' -s E -l conflict-exit-code -x -d 'Exit status when not acquired (default: 75)'
complete -c redlock -n '__redlock_using run acquire' -l label -x -d 'Record TEXT, not the command line (default: the command line)'
complete -c redlock -n '__redlock_using run acquire' -l unreachable-timeout -x -d 'Give up with 69 after D unreachable (default: 1m)'
complete -c redlock -n '__redlock_using run acquire' -s x -l exclusive -d 'One holder at a time (the default)'
complete -c redlock -n '__redlock_using run acquire' -s s -l shared -d 'With other shared holders, no exclusive one'
complete -c redlock -n '__redlock_using run acquire' -s l -l limit -x -d 'At most N holders, as N slots'
complete -c redlock -n '__redlock_using run acquire' -l slots -x -d 'One holder per named slot'
complete -c redlock -n '__redlock_using run acquire' -l queue -x -a 'fifo none' -d 'fifo: served in line; none: race (default: fifo)'
complete -c redlock -n '__redlock_using run acquire' -l order-key -x -d 'Serve waiters by N, smallest first'
complete -c redlock -n '__redlock_using run acquire' -l supersede -d 'Give up once a newer waiter is in line'

# Running COMMAND.
complete -c redlock -n '__redlock_using run' -l kill-after -x -d 'Grace before SIGKILL (default: min(5s, TTL/3))'
complete -c redlock -n '__redlock_using run' -l lost-signal -x -a 'HUP INT QUIT KILL USR1 USR2 ALRM TERM' -d 'Signal when the lock is lost (default: TERM)'
complete -c redlock -n '__redlock_using run' -l max-time -x -d 'Stop COMMAND after D, exit 124 (default: none)'
complete -c redlock -n '__redlock_using run' -l min-hold -x -d 'Keep KEY held at least D (default: 0)'
complete -c redlock -n '__redlock_using run' -l leftovers -x -a 'kill wait ignore' -d 'Processes left when COMMAND exits (default: kill)'

# Automation.
complete -c redlock -n '__redlock_using run' -l once -x -d 'Run at most once for KEY and ID (default: none)'
complete -c redlock -n '__redlock_using run' -l once-keep -x -d 'Keep the --once mark for D (default: 168h)'
complete -c redlock -n '__redlock_using run acquire' -l events -r -F -d 'Append JSON event lines to FILE (default: none)'
complete -c redlock -n '__redlock_using run acquire' -l events-fd -x -d 'Write JSON event lines to descriptor N (default: none)'
complete -c redlock -n '__redlock_using run' -l if-newer -x -d "Skip COMMAND unless N is above KEY's mark"
complete -c redlock -n __redlock_in_command -x -a '(__redlock_complete_command)'

# Multi-step scripts.
complete -c redlock -n '__redlock_using acquire' -l env -d 'Print REDLOCK_TOKEN=... lines'
complete -c redlock -n '__redlock_using extend release force-release' -l token -x -d "The holder's token"

# Operators.
complete -c redlock -n '__redlock_using inspect doctor' -l json -d 'Print one JSON document'
complete -c redlock -n '__redlock_using inspect' -s l -l long -d 'The details of each lock, not one row per lock'
complete -c redlock -n '__redlock_using force-release' -s y -l yes -d 'Do not ask for confirmation'
