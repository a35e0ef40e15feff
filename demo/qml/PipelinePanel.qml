import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtActorsDemo

// 5. Backpressure: a producer co_awaits castWhenRoom into a writer's bounded mailbox, so it runs
// at the writer's pace, however fast it could go.
Panel {
    id: panel

    required property PipelineFacade pipeline

    readonly property var english: Qt.locale("en_US")
    function count(n) { return Number(n).toLocaleString(english, 'f', 0) }

    title: qsTr("5 · Backpressure")
    subtitle: qsTr("co_await castWhenRoom() into a bounded mailbox (capacity %1) of a slow writer")
              .arg(panel.pipeline.capacity)

    RowLayout {
        anchors.fill: parent
        spacing: 18

        Button {
            text: panel.pipeline.running ? qsTr("Stop") : qsTr("Start")
            onClicked: panel.pipeline.running ? panel.pipeline.stop() : panel.pipeline.start()
        }
        ColumnLayout {
            spacing: 0
            Label {
                text: qsTr("writer: %1 ms per record").arg(panel.pipeline.delayMs)
                color: "#8b98a9"
                font.pixelSize: 11
            }
            Slider {
                objectName: "writerDelay"
                from: 1
                to: 40
                stepSize: 1
                value: panel.pipeline.delayMs
                onMoved: panel.pipeline.delayMs = value
                Layout.preferredWidth: 160
            }
        }
        Stat {
            caption: qsTr("producer sends / s")
            value: panel.count(panel.pipeline.producedPerSecond)
        }
        Stat {
            caption: qsTr("writer writes / s")
            value: panel.count(panel.pipeline.writtenPerSecond)
        }
        ColumnLayout {
            spacing: 2
            Label {
                text: qsTr("waiting in the mailbox: %1 of %2")
                      .arg(panel.pipeline.waiting).arg(panel.pipeline.capacity)
                color: "#8b98a9"
                font.pixelSize: 11
            }
            ProgressBar {
                objectName: "mailboxFill"
                value: panel.pipeline.waiting / panel.pipeline.capacity
                Layout.preferredWidth: 180
            }
        }
        Stat {
            caption: qsTr("producer")
            value: !panel.pipeline.running ? qsTr("stopped")
                   : panel.pipeline.producerWaiting ? qsTr("waiting for room") : qsTr("sending")
            valueColor: panel.pipeline.producerWaiting ? "#e3b341" : "#e6edf3"
        }
        Stat {
            caption: qsTr("records written · waits for room")
            value: qsTr("%1 · %2").arg(panel.count(panel.pipeline.written))
                   .arg(panel.count(panel.pipeline.roomWaits))
        }
        Item { Layout.fillWidth: true }
    }
}
