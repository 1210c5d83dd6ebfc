// Linux epoll for PartnerlineTransport's I/O slots (Swift's Glibc module does not include it).
#include <sys/epoll.h>
