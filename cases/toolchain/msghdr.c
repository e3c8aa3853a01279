/* The field sizes of struct msghdr with glibc's headers (note 004 gives int and socklen_t). */
#include <sys/socket.h>
#include <stdio.h>
int main(void) {
    struct msghdr m;
    printf("%zu %zu %zu", sizeof m.msg_iovlen, sizeof m.msg_controllen, sizeof m.msg_flags);
    return 0;
}
