# bash completion for redlock(1)                                     -*- shell-script -*-
#
# Installed as share/bash-completion/completions/redlock (bash-completion loads it on
# first use), or source it from ~/.bashrc. The option lists follow the option table of
# redlock (Sources/redlock/OptionTable.swift); Tests/RedlockCoreTests/AgreementTests.swift
# fails when they drift apart.

_redlock_commands="run acquire extend release inspect force-release doctor help"

# Options every command takes.
_redlock_global_opts="-r --redis --password-file --connect-timeout --op-timeout --prefix
    --restart-grace --tls-ca-cert --tls-cert --tls-key --tls-server-name --tls-insecure
    -q --quiet -v --verbose -h --help -V --version"

# Options of one command, besides the global ones.
_redlock_command_opts() {
    case $1 in
        run) echo "-t --ttl -w --wait -n --no-wait -E --conflict-exit-code --label --unreachable-timeout
                   -x --exclusive -s --shared -l --limit --slots --queue --order-key --supersede --if-newer
                   --kill-after --lost-signal --max-time --min-hold --leftovers --once --once-keep --events --events-fd" ;;
        acquire) echo "-t --ttl -w --wait -n --no-wait -E --conflict-exit-code --label --unreachable-timeout
                   -x --exclusive -s --shared -l --limit --slots --queue --order-key --supersede --env --events --events-fd" ;;
        extend) echo "-t --ttl --token" ;;
        release) echo "--token" ;;
        inspect) echo "--json -l --long" ;;
        force-release) echo "--token -y --yes" ;;
        doctor) echo "--json" ;;
    esac
}

# Options that take a value in the next word (or after '=').
_redlock_takes_value() {
    case $1 in
        -r | --redis | --password-file | --connect-timeout | --op-timeout | --prefix | \
            --restart-grace | --tls-ca-cert | --tls-cert | --tls-key | --tls-server-name | \
            -t | --ttl | -w | --wait | -E | --conflict-exit-code | --unreachable-timeout | \
            --limit | --slots | --label | --kill-after | --lost-signal | --max-time | --min-hold | --leftovers | --token | \
            --once | --once-keep | --events | --events-fd | --queue | --order-key | --if-newer)
            return 0 ;;
        # -l is --limit N for run and acquire, --long (no value) for inspect.
        -l)
            [[ $command != inspect ]] && return 0 ;;
    esac
    return 1
}

# Completes the value of option $1 for the word $2.
_redlock_value() {
    case $1 in
        --lost-signal)
            COMPREPLY=($(compgen -W "HUP INT QUIT KILL USR1 USR2 ALRM TERM" -- "$2")) ;;
        --leftovers)
            COMPREPLY=($(compgen -W "kill wait ignore" -- "$2")) ;;
        --queue)
            COMPREPLY=($(compgen -W "fifo none" -- "$2")) ;;
        --password-file | --tls-ca-cert | --tls-cert | --tls-key | --events)
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -f -- "$2")) ;;
        -r | --redis)
            compopt -o nospace 2>/dev/null
            COMPREPLY=($(compgen -W "redis:// rediss:// redis+sentinel:// rediss+sentinel:// redis+cluster:// rediss+cluster:// unix://" -- "$2")) ;;
        *)
            COMPREPLY=() ;;  # durations, numbers, tokens, prefixes: nothing to offer
    esac
}

# bash splits words at ':' too (it is in COMP_WORDBREAKS), so "-r redis://h:6379" arrives
# as "redis" ":" "//h" ":" "6379". Glue back the pieces that touch in COMP_LINE: sets
# words, cword, and origin (the COMP_WORDS index where each glued word starts).
_redlock_words() {
    local line=${COMP_LINE:0:COMP_POINT} position=0 i word rest trimmed spaced
    words=() origin=()
    for ((i = 0; i <= COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        rest=${line:position}
        trimmed=${rest#"${rest%%[![:space:]]*}"}
        spaced=$((${#rest} - ${#trimmed}))
        position=$((position + spaced + ${#word}))
        if ((i > 0 && spaced == 0)) && [[ $word == :* || ${words[${#words[@]} - 1]} == *: ]]; then
            words[${#words[@]} - 1]+=$word
        else
            words+=("$word")
            origin+=("$i")
        fi
    done
    cword=$((${#words[@]} - 1))
}

_redlock() {
    local words origin cword in_command=""
    _redlock_words
    local cur=${words[cword]}
    COMPREPLY=()
    _redlock_complete
    # bash replaces only the part of the word after its last ':': offer that part (COMMAND's
    # own completion has done so already).
    if [[ -z $in_command && $cur == *:* && ${#COMPREPLY[@]} -gt 0 ]]; then
        local glued=${cur%"${cur##*:}"} k
        for k in "${!COMPREPLY[@]}"; do COMPREPLY[k]=${COMPREPLY[k]#"$glued"}; done
    fi
    return 0
}

_redlock_complete() {
    # Walk the words before the cursor: find the command, run's KEY, and where run's
    # COMMAND starts. bash splits "--ttl=5s" into "--ttl" "=" "5s"; "=" glues them back.
    local i=1 word command="" key="" command_start=-1 pending="" positional_only=""
    while ((i < cword)); do
        word=${words[i]}
        if [[ -n $positional_only ]]; then
            [[ -z $command ]] && command=$word
            ((i++))
            continue
        fi
        if [[ -n $pending ]]; then
            pending=""
            [[ $word == "=" ]] && pending=value
            ((i++))
            continue
        fi
        if [[ $word == "=" ]]; then
            pending=value
            ((i++))
            continue
        fi
        if [[ $word == "--" ]]; then
            if [[ $command == run ]]; then
                command_start=$((i + 1))
                break
            fi
            positional_only=1
        elif [[ $word == --* ]]; then
            if _redlock_takes_value "$word" && [[ ${words[i + 1]} != "=" || $((i + 1)) -ge $cword ]]; then
                pending=value
            fi
        elif [[ $word == -?* ]]; then
            # A group of letters: the first that takes a value takes the rest of the word,
            # or the next word when it is last.
            local letters=${word#-} letter
            while [[ -n $letters ]]; do
                letter=${letters:0:1}
                letters=${letters:1}
                if _redlock_takes_value "-$letter"; then
                    [[ -z $letters ]] && pending=value
                    break
                fi
            done
        elif [[ -z $command ]]; then
            command=$word
        elif [[ $command == run && -z $key ]]; then
            key=$word
        elif [[ $command == run ]]; then
            command_start=$i  # the first word after KEY that is not an option
            break
        fi
        ((i++))
    done

    # Inside run's COMMAND: complete it as the shell would on its own.
    if [[ $command == run && ( $command_start -ge 0 || ( -n $key && -z $pending && $cur != -* ) ) ]]; then
        in_command=1
        ((command_start < 0)) && command_start=$cword
        if declare -F _command_offset >/dev/null; then
            _command_offset "${origin[command_start]}"
        elif ((cword == command_start)); then
            COMPREPLY=($(compgen -c -- "$cur"))
        else
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -f -- "$cur"))
        fi
        return 0
    fi

    # The value of an option: in the next word, or after "=" (bash splits the word there).
    local prev=${words[cword - 1]}
    if [[ $cur == "=" && $prev == --* ]]; then
        _redlock_value "$prev" ""
        return 0
    fi
    if [[ $prev == "=" ]] && ((cword >= 2)); then
        _redlock_value "${words[cword - 2]}" "$cur"
        return 0
    fi
    if [[ -n $pending ]]; then
        if [[ $prev == --* ]]; then
            _redlock_value "$prev" "$cur"
        else
            _redlock_value "$(_redlock_long_name "${prev: -1}")" "$cur"
        fi
        return 0
    fi

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$_redlock_global_opts $(_redlock_command_opts "$command")" -- "$cur"))
        return 0
    fi
    if [[ -z $command ]]; then
        COMPREPLY=($(compgen -W "$_redlock_commands" -- "$cur"))
    elif [[ $command == help ]]; then
        COMPREPLY=($(compgen -W "$_redlock_commands" -- "$cur"))
    fi
    # KEYs live in Redis: nothing to offer.
    return 0
}

# The long name of a letter that takes a value.
_redlock_long_name() {
    case $1 in
        r) echo --redis ;;
        t) echo --ttl ;;
        w) echo --wait ;;
        E) echo --conflict-exit-code ;;
        l) echo --limit ;;
    esac
}

complete -F _redlock redlock
