/* The floor of the whole-process benchmarks: a static-pie program that does
 * nothing, so timing it measures what exec and exit cost on the machine.
 * Given arguments, it execs them instead (argv[1] an absolute path): one
 * more exec in front of a program, the least any wrapper adds (the
 * first-screen benchmark puts it in front of `tmux attach`). */
#include <unistd.h>

int main(int argc, char** argv)
{
    if (argc > 1) {
        execv(argv[1], argv + 1);
        return 127;
    }
    return 0;
}
