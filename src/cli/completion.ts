import type { Command } from './run.ts';

const USAGE = `usage: petrel completion bash|zsh

Prints a shell completion script for petrel (and kubectl-petrel, the kubectl plugin):
  bash:  source <(petrel completion bash)     or save it in /etc/bash_completion.d/petrel
  zsh:   source <(petrel completion zsh)      or save it as _petrel in a directory of $fpath
Canary names are completed from the cluster (petrel get canaries -o name) in the namespace given by -n.
`;

/** The words completed after `petrel`; kept here so the scripts and the test agree. */
export const COMPLETION_COMMANDS = [
  'get',
  'explain',
  'promote',
  'abort',
  'pause',
  'resume',
  'retry',
  'freeze',
  'unfreeze',
  'lint',
  'crds',
  'controller',
  'completion',
  'version',
] as const;

const NAME_COMMANDS = ['explain', 'promote', 'abort', 'pause', 'resume', 'retry'];
const COMMON_FLAGS = ['-n', '--namespace', '--kubeconfig', '--context', '-h', '--help'];
const GET_FLAGS = ['-A', '--all-namespaces', '-w', '--watch', '-o', '--output'];

/**
 * Bash: the word before the cursor decides. A flag that takes a value completes that value (namespaces
 * are not listed: petrel reads no Namespaces); a command that takes a Canary name asks petrel itself,
 * passing on -n/--kubeconfig/--context from the line so the names come from the same place.
 */
function bashScript(): string {
  return `# bash completion for petrel and kubectl-petrel (petrel completion bash)
_petrel_canaries() {
  local args=() i
  for ((i = 1; i < \${#COMP_WORDS[@]} - 1; i++)); do
    case "\${COMP_WORDS[i]}" in
      -n|--namespace|--kubeconfig|--context) args+=("\${COMP_WORDS[i]}" "\${COMP_WORDS[i+1]}") ;;
    esac
  done
  "\${COMP_WORDS[0]}" get canaries "\${args[@]}" -o name 2>/dev/null | sed 's|^.*/||'
}

_petrel() {
  local cur prev command
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  command="\${COMP_WORDS[1]}"
  case "$prev" in
    -o|--output) COMPREPLY=($(compgen -W "json yaml name" -- "$cur")); return ;;
    --kubeconfig) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    -n|--namespace|--context) COMPREPLY=(); return ;;
  esac
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "${COMPLETION_COMMANDS.join(' ')}" -- "$cur"))
    return
  fi
  if [[ "$cur" == -* ]]; then
    case "$command" in
      get) COMPREPLY=($(compgen -W "${[...COMMON_FLAGS, ...GET_FLAGS].join(' ')}" -- "$cur")) ;;
      *) COMPREPLY=($(compgen -W "${COMMON_FLAGS.join(' ')} --by -o --output" -- "$cur")) ;;
    esac
    return
  fi
  case "$command" in
    get)
      if [[ $COMP_CWORD -eq 2 ]]; then COMPREPLY=($(compgen -W "canary canaries" -- "$cur"))
      elif [[ $COMP_CWORD -eq 3 && "\${COMP_WORDS[2]}" == canary ]]; then COMPREPLY=($(compgen -W "$(_petrel_canaries)" -- "$cur"))
      fi ;;
    ${NAME_COMMANDS.join('|')}) COMPREPLY=($(compgen -W "$(_petrel_canaries)" -- "$cur")) ;;
    completion) COMPREPLY=($(compgen -W "bash zsh" -- "$cur")) ;;
    lint) COMPREPLY=($(compgen -f -- "$cur")) ;;
  esac
}
complete -F _petrel petrel
complete -F _petrel kubectl-petrel
`;
}

function zshScript(): string {
  const described = COMPLETION_COMMANDS.map((c) => `'${c}'`).join(' ');
  return `#compdef petrel kubectl-petrel
# zsh completion for petrel and kubectl-petrel (petrel completion zsh)
_petrel_canaries() {
  local -a args names
  local i
  for ((i = 2; i < CURRENT; i++)); do
    case "\${words[i]}" in
      -n|--namespace|--kubeconfig|--context) args+=("\${words[i]}" "\${words[i+1]}") ;;
    esac
  done
  names=(\${(f)"$(\${words[1]} get canaries "\${args[@]}" -o name 2>/dev/null | sed 's|^.*/||')"})
  compadd -a names
}

_petrel() {
  local -a commands
  commands=(${described})
  if (( CURRENT == 2 )); then
    compadd -a commands
    return
  fi
  case "\${words[CURRENT-1]}" in
    -o|--output) compadd json yaml name; return ;;
    --kubeconfig) _files; return ;;
    -n|--namespace|--context) return ;;
  esac
  if [[ "\${words[CURRENT]}" == -* ]]; then
    compadd -- ${COMMON_FLAGS.join(' ')} ${GET_FLAGS.join(' ')} --by
    return
  fi
  case "\${words[2]}" in
    get)
      if (( CURRENT == 3 )); then compadd canary canaries
      elif (( CURRENT == 4 )) && [[ "\${words[3]}" == canary ]]; then _petrel_canaries
      fi ;;
    ${NAME_COMMANDS.join('|')}) _petrel_canaries ;;
    completion) compadd bash zsh ;;
    lint) _files ;;
  esac
}

if [[ "$funcstack[1]" == _petrel ]]; then
  _petrel "$@"
else
  compdef _petrel petrel kubectl-petrel
fi
`;
}

export const completionCommand: Command = async (args, io) => {
  if (args.includes('-h') || args.includes('--help')) {
    io.stdout.write(USAGE);
    return 0;
  }
  const [shell, ...rest] = args;
  if (rest.length > 0 || (shell !== 'bash' && shell !== 'zsh')) {
    io.stderr.write(
      `petrel completion: give one shell, bash or zsh (got ${[shell, ...rest].filter(Boolean).join(' ') || 'nothing'})\n\n${USAGE}`,
    );
    return 2;
  }
  io.stdout.write(shell === 'bash' ? bashScript() : zshScript());
  return 0;
};
