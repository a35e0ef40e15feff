import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// A titled frame; what is declared inside it fills the area below the title.
Rectangle {
    id: panel

    property alias title: titleLabel.text
    property alias subtitle: subtitleLabel.text
    default property alias content: body.data

    color: "#1a202a"
    radius: 6
    border.color: "#2a3342"

    ColumnLayout {
        anchors.fill: parent
        anchors.margins: 10
        spacing: 6

        RowLayout {
            spacing: 10
            Label {
                id: titleLabel
                font.pixelSize: 16
                font.bold: true
                color: "#e6edf3"
            }
            Label {
                id: subtitleLabel
                color: "#8b98a9"
                elide: Text.ElideRight
                Layout.fillWidth: true
            }
        }
        Item {
            id: body
            Layout.fillWidth: true
            Layout.fillHeight: true
        }
    }
}
