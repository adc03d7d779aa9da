import CShims
import Testing
import WeirSystem

@Suite struct EpollTests {
    @Test func eventBitsMatchTheCHeaders() {
        #expect(Epoll.readable == CShims_EPOLLIN)
        #expect(Epoll.writable == CShims_EPOLLOUT)
        #expect(Epoll.error == CShims_EPOLLERR)
        #expect(Epoll.hangup == CShims_EPOLLHUP)
        #expect(Epoll.peerClosed == CShims_EPOLLRDHUP)
        #expect(Epoll.edgeTriggered == CShims_EPOLLET)
    }
}
